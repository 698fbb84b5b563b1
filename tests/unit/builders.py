"""Test builders for commands and specs, shared by the unit tests of the core."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

from jobstream.schemas import Command, CommandEnvelope, JobSpec, RetryPolicy, ShellTask

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
_ids = itertools.count(1)


def spec(**overrides: Any) -> JobSpec:
    fields: dict[str, Any] = dict(name="echo", task=ShellTask(argv=["echo", "hi"]))
    fields.update(overrides)
    return JobSpec(**fields)


def retrying(max_attempts: int = 3, initial: float = 1.0) -> RetryPolicy:
    return RetryPolicy(max_attempts=max_attempts, initial_backoff_s=initial, max_backoff_s=60.0)


def command(cls: type[Command], job_id: str = "job-1", command_id: str | None = None, **fields: Any) -> Command:
    envelope = CommandEnvelope(
        command_id=command_id or f"cmd-{next(_ids)}", job_id=job_id, type=cls.short_name(),
        issued_at=T0, actor="test",
    )
    return cls(envelope=envelope, **fields)

"""Shared named types (jobstream.common): envelopes, task kinds, schedule, retry, spec, patch.

Dict/list fields use default factories; treat them as immutable by convention.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import ClassVar

from .base import Record

DEFAULT_NAMESPACE = "default"  # every job, worker and key belongs to one namespace; this one always exists
NAMESPACE_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,62}$"  # what a namespace's name may be: short, plain


def valid_namespace(name: str) -> bool:
    return re.match(NAMESPACE_PATTERN, name) is not None


class Outcome(StrEnum):
    """How one execution attempt ended."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    CANCELLED = "cancelled"
    LOST = "lost"


class MisfirePolicy(StrEnum):
    """What to do with due times missed while down or paused."""

    SKIP = "skip"
    RUN_ONCE = "run_once"
    RUN_ALL = "run_all"


class ConcurrencyPolicy(StrEnum):
    """What to do when a run is due while the previous one is still active."""

    ALLOW = "allow"
    FORBID = "forbid"
    REPLACE = "replace"


class Jitter(StrEnum):
    """Randomisation applied to a computed retry backoff."""

    FULL = "full"
    NONE = "none"


class DependencyCondition(StrEnum):
    """Which upstream end state releases a dependency."""

    SUCCEEDED = "succeeded"
    COMPLETED = "completed"


ENUMS: dict[str, type[StrEnum]] = {
    "jobstream.common.Outcome": Outcome,
    "jobstream.common.MisfirePolicy": MisfirePolicy,
    "jobstream.common.ConcurrencyPolicy": ConcurrencyPolicy,
    "jobstream.common.Jitter": Jitter,
    "jobstream.common.DependencyCondition": DependencyCondition,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Envelope(Record):
    """Metadata of a job event; (job_id, seq) is gap-free and starts at 1."""

    avro_name: ClassVar[str] = "jobstream.common.Envelope"
    event_id: str
    job_id: str
    seq: int
    type: str
    occurred_at: datetime
    actor: str
    causation_id: str | None = None
    correlation_id: str | None = None
    continues: bool = False  # more events of the same decision follow
    namespace: str = DEFAULT_NAMESPACE  # the job's, set at submission


@dataclass(frozen=True, slots=True, kw_only=True)
class CommandEnvelope(Record):
    """Metadata of a command; command_id is the dedupe key."""

    avro_name: ClassVar[str] = "jobstream.common.CommandEnvelope"
    command_id: str
    job_id: str
    type: str
    issued_at: datetime
    actor: str
    correlation_id: str | None = None
    namespace: str | None = None  # the issuer's; None on the processors' and workers' own commands


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerEnvelope(Record):
    """Metadata of a worker event; (worker_id, seq) is gap-free and starts at 1."""

    avro_name: ClassVar[str] = "jobstream.common.WorkerEnvelope"
    event_id: str
    worker_id: str
    seq: int
    type: str
    occurred_at: datetime
    actor: str
    causation_id: str | None = None
    correlation_id: str | None = None
    namespace: str = DEFAULT_NAMESPACE  # the namespace the worker serves


@dataclass(frozen=True, slots=True, kw_only=True)
class ShellTask(Record):
    """Run a process (exec argv, or via /bin/sh when shell is true)."""

    avro_name: ClassVar[str] = "jobstream.common.ShellTask"
    argv: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    cwd: str | None = None
    shell: bool = False
    memory_limit_mb: int | None = None
    cpu_limit_s: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpTask(Record):
    """Make one HTTP request; success is judged by the status."""

    avro_name: ClassVar[str] = "jobstream.common.HttpTask"
    method: str = "GET"
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None
    timeout_s: float | None = None
    expected_status: list[int] = field(default_factory=list)


@dataclass(frozen=True, slots=True, kw_only=True)
class PythonTask(Record):
    """Call `package.module:function` with JSON-encoded arguments."""

    avro_name: ClassVar[str] = "jobstream.common.PythonTask"
    entrypoint: str
    args_json: str = "[]"
    kwargs_json: str = "{}"
    memory_limit_mb: int | None = None
    cpu_limit_s: int | None = None
    isolation: str = "process"  # or "inline": in the worker's own process
    env: dict[str, str] = field(default_factory=dict)  # the child's; secret refs as in ShellTask.env


Task = ShellTask | HttpTask | PythonTask


@dataclass(frozen=True, slots=True, kw_only=True)
class Schedule(Record):
    """Cron, fixed interval or one-shot time, plus misfire/overlap policy."""

    avro_name: ClassVar[str] = "jobstream.common.Schedule"
    cron: str | None = None
    timezone: str = "UTC"
    every_s: float | None = None
    at: datetime | None = None
    start_at: datetime | None = None
    end_at: datetime | None = None
    max_runs: int | None = None
    misfire: MisfirePolicy = MisfirePolicy.RUN_ONCE
    misfire_cap: int = 100
    starting_deadline_s: float | None = None
    concurrency: ConcurrencyPolicy = ConcurrencyPolicy.ALLOW


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy(Record):
    """Capped exponential backoff; max_attempts counts the first attempt."""

    avro_name: ClassVar[str] = "jobstream.common.RetryPolicy"
    max_attempts: int = 1
    initial_backoff_s: float = 1.0
    max_backoff_s: float = 300.0
    multiplier: float = 2.0
    jitter: Jitter = Jitter.FULL
    retry_on_exit_codes: list[int] = field(default_factory=list)
    retry_on_timeout: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class Requirements(Record):
    """Resources and labels a worker must offer."""

    avro_name: ClassVar[str] = "jobstream.common.Requirements"
    cpu: float = 0.0
    memory_mb: int = 0
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class Dependency(Record):
    """An upstream job that must finish first."""

    avro_name: ClassVar[str] = "jobstream.common.Dependency"
    job_id: str
    condition: DependencyCondition = DependencyCondition.SUCCEEDED


@dataclass(frozen=True, slots=True, kw_only=True)
class ScheduledRun(Record):
    """Marks a job as one run of a recurring job: which one, which run, for which due time."""

    avro_name: ClassVar[str] = "jobstream.common.ScheduledRun"
    parent_job_id: str
    run_number: int
    due_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class JobSpec(Record):
    """Everything needed to run a job, as submitted."""

    avro_name: ClassVar[str] = "jobstream.common.JobSpec"
    name: str
    queue: str = "default"
    priority: int = 5
    task: Task
    timeout_s: float | None = None
    labels: dict[str, str] = field(default_factory=dict)
    idempotency_key: str | None = None
    schedule: Schedule | None = None
    retry: RetryPolicy | None = None
    requirements: Requirements | None = None
    depends_on: list[Dependency] = field(default_factory=list)
    run_of: ScheduledRun | None = None
    upstream_results: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class JobPatch(Record):
    """Partial job update; None means unchanged."""

    avro_name: ClassVar[str] = "jobstream.common.JobPatch"
    priority: int | None = None
    queue: str | None = None
    env: dict[str, str] | None = None
    timeout_s: float | None = None
    retry: RetryPolicy | None = None
    schedule: Schedule | None = None
    labels: dict[str, str] | None = None


RECORDS: tuple[type[Record], ...] = (
    Envelope, CommandEnvelope, WorkerEnvelope, ShellTask, HttpTask, PythonTask,
    Schedule, RetryPolicy, Requirements, Dependency, ScheduledRun, JobSpec, JobPatch,
)

"""Analytics records (jobstream.analytics): a flat row per job event for Kafka Connect sinks, and
what the analytics projector remembers of a job to fill it. Derived data, not a source of truth."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from .base import Record
from .common import DEFAULT_NAMESPACE


@dataclass(frozen=True, slots=True, kw_only=True)
class JobEventRow(Record):
    avro_name: ClassVar[str] = "jobstream.analytics.JobEventRow"
    job_id: str
    seq: int
    event_id: str
    type: str
    occurred_at: datetime
    actor: str
    namespace: str = DEFAULT_NAMESPACE
    name: str | None = None
    queue: str | None = None
    status: str | None = None
    attempt: int | None = None
    execution_id: str | None = None
    worker_id: str | None = None
    exit_code: int | None = None
    duration_ms: int | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class JobContext(Record):
    avro_name: ClassVar[str] = "jobstream.analytics.JobContext"
    seq: int
    name: str | None = None
    queue: str | None = None
    status: str | None = None
    tries: int = 0
    attempt: int | None = None
    execution_id: str | None = None
    worker_id: str | None = None


RECORDS: tuple[type[Record], ...] = (JobEventRow, JobContext)

"""Job events (jobstream.events): the facts of a job's life, keyed by job_id."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import ClassVar

from .base import Record
from .common import Envelope, JobPatch, JobSpec, Outcome


class JobEvent(Record):
    """Base of every job event; `isinstance(x, JobEvent)` identifies them."""

    __slots__ = ()
    envelope: Envelope


class SkipReason(StrEnum):
    """Why a scheduled due time was skipped."""

    MISFIRE = "misfire"
    OVERLAP = "overlap"
    PAUSED = "paused"
    DEADLINE = "deadline"


ENUMS: dict[str, type[StrEnum]] = {"jobstream.events.SkipReason": SkipReason}


@dataclass(frozen=True, slots=True, kw_only=True)
class JobSubmitted(JobEvent):
    """A job was created."""

    avro_name: ClassVar[str] = "jobstream.events.JobSubmitted"
    envelope: Envelope
    spec: JobSpec


@dataclass(frozen=True, slots=True, kw_only=True)
class JobPending(JobEvent):
    """The job waits for upstream dependencies."""

    avro_name: ClassVar[str] = "jobstream.events.JobPending"
    envelope: Envelope
    waiting_on: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True, kw_only=True)
class JobScheduled(JobEvent):
    """The job's next run is scheduled."""

    avro_name: ClassVar[str] = "jobstream.events.JobScheduled"
    envelope: Envelope
    next_run_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class JobQueued(JobEvent):
    """An execution was put on a queue, ready for dispatch."""

    avro_name: ClassVar[str] = "jobstream.events.JobQueued"
    envelope: Envelope
    queue: str
    priority: int
    attempt: int
    execution_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class JobAssigned(JobEvent):
    """An execution was assigned to a worker."""

    avro_name: ClassVar[str] = "jobstream.events.JobAssigned"
    envelope: Envelope
    execution_id: str
    attempt: int
    worker_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class JobStarted(JobEvent):
    """An execution started on its worker."""

    avro_name: ClassVar[str] = "jobstream.events.JobStarted"
    envelope: Envelope
    execution_id: str
    attempt: int
    worker_id: str
    pid: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class JobProgressed(JobEvent):
    """A running execution reported progress."""

    avro_name: ClassVar[str] = "jobstream.events.JobProgressed"
    envelope: Envelope
    execution_id: str
    attempt: int
    percent: float | None = None
    message: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class JobCompleted(JobEvent):
    """An execution succeeded; the run is done."""

    avro_name: ClassVar[str] = "jobstream.events.JobCompleted"
    envelope: Envelope
    execution_id: str
    attempt: int
    exit_code: int | None = None
    result_json: str | None = None
    stdout_tail: str = ""
    stderr_tail: str = ""
    duration_ms: int = 0
    log_records: int | None = None  # records on the logs topic, eof included; 0: no output, no eof


@dataclass(frozen=True, slots=True, kw_only=True)
class JobFailed(JobEvent):
    """An execution did not succeed (failed, timed out, cancelled or lost)."""

    avro_name: ClassVar[str] = "jobstream.events.JobFailed"
    envelope: Envelope
    execution_id: str
    attempt: int
    outcome: Outcome
    exit_code: int | None = None
    error: str | None = None
    stdout_tail: str = ""
    stderr_tail: str = ""
    duration_ms: int = 0
    final: bool
    log_records: int | None = None  # records on the logs topic, eof included; 0: no output, no eof


@dataclass(frozen=True, slots=True, kw_only=True)
class JobReturned(JobEvent):
    """A worker handed back an assignment it had no room for; the next attempt is queued."""

    avro_name: ClassVar[str] = "jobstream.events.JobReturned"
    envelope: Envelope
    execution_id: str
    attempt: int
    worker_id: str
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class JobRetryScheduled(JobEvent):
    """A failed attempt will be retried after a backoff."""

    avro_name: ClassVar[str] = "jobstream.events.JobRetryScheduled"
    envelope: Envelope
    next_attempt: int
    retry_at: datetime
    backoff_ms: int


@dataclass(frozen=True, slots=True, kw_only=True)
class JobDeadLettered(JobEvent):
    """The job exhausted its retries and was parked for manual redrive."""

    avro_name: ClassVar[str] = "jobstream.events.JobDeadLettered"
    envelope: Envelope
    attempts: int
    last_error: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class JobCancelled(JobEvent):
    """The job was cancelled."""

    avro_name: ClassVar[str] = "jobstream.events.JobCancelled"
    envelope: Envelope
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class JobPaused(JobEvent):
    """The job was paused; no new runs are scheduled."""

    avro_name: ClassVar[str] = "jobstream.events.JobPaused"
    envelope: Envelope


@dataclass(frozen=True, slots=True, kw_only=True)
class JobResumed(JobEvent):
    """The job was resumed."""

    avro_name: ClassVar[str] = "jobstream.events.JobResumed"
    envelope: Envelope
    next_run_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class JobUpdated(JobEvent):
    """Parts of the job's spec changed."""

    avro_name: ClassVar[str] = "jobstream.events.JobUpdated"
    envelope: Envelope
    patch: JobPatch


@dataclass(frozen=True, slots=True, kw_only=True)
class ScheduleFired(JobEvent):
    """A scheduled due time fired a run."""

    avro_name: ClassVar[str] = "jobstream.events.ScheduleFired"
    envelope: Envelope
    due_at: datetime
    run_number: int
    run_job_id: str | None = None
    replaces: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True, kw_only=True)
class ScheduleSkipped(JobEvent):
    """A scheduled due time was skipped without running."""

    avro_name: ClassVar[str] = "jobstream.events.ScheduleSkipped"
    envelope: Envelope
    due_at: datetime
    reason: SkipReason


@dataclass(frozen=True, slots=True, kw_only=True)
class ScheduleRunFinished(JobEvent):
    """One run of this recurring job reached a final state; it no longer counts as active."""

    avro_name: ClassVar[str] = "jobstream.events.ScheduleRunFinished"
    envelope: Envelope
    run_job_id: str
    status: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ScheduleEnded(JobEvent):
    """The schedule has no more fires (end_at passed or max_runs reached); the job is completed."""

    avro_name: ClassVar[str] = "jobstream.events.ScheduleEnded"
    envelope: Envelope
    reason: str
    runs: int


@dataclass(frozen=True, slots=True, kw_only=True)
class DependentRegistered(JobEvent):
    """A job waits on this one; it is told when this job reaches a final state."""

    avro_name: ClassVar[str] = "jobstream.events.DependentRegistered"
    envelope: Envelope
    dependent_job_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class UpstreamSettled(JobEvent):
    """An upstream this job waits on reached a final state; ``satisfied``: its condition holds."""

    avro_name: ClassVar[str] = "jobstream.events.UpstreamSettled"
    envelope: Envelope
    upstream_job_id: str
    upstream_status: str
    satisfied: bool
    upstream_result_json: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CommandRejected(JobEvent):
    """A command was not applied to the job."""

    avro_name: ClassVar[str] = "jobstream.events.CommandRejected"
    envelope: Envelope
    command_id: str
    command_type: str
    reason: str
    reply_to: str | None = None  # not set any more; old events may carry it


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportRejected(JobEvent):
    """A worker report was ignored because it was stale or inconsistent."""

    avro_name: ClassVar[str] = "jobstream.events.ReportRejected"
    envelope: Envelope
    execution_id: str
    attempt: int
    current_attempt: int
    worker_id: str
    report_type: str
    reason: str


RECORDS: tuple[type[JobEvent], ...] = (
    JobSubmitted, JobPending, JobScheduled, JobQueued, JobAssigned, JobStarted,
    JobProgressed, JobCompleted, JobFailed, JobReturned, JobRetryScheduled, JobDeadLettered,
    JobCancelled, JobPaused, JobResumed, JobUpdated, ScheduleFired, ScheduleSkipped,
    ScheduleRunFinished, ScheduleEnded, DependentRegistered, UpstreamSettled, CommandRejected, ReportRejected,
)

"""Commands (jobstream.commands): requests to change a job, keyed by job_id."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import ClassVar

from .base import Record
from .common import CommandEnvelope, JobPatch, JobSpec, Outcome


class Command(Record):
    """Base of every command; `isinstance(x, Command)` identifies commands."""

    __slots__ = ()
    envelope: CommandEnvelope


class TimerPurpose(StrEnum):
    """Why a durable timer was set."""

    SCHEDULE = "schedule"
    RETRY = "retry"
    RUN_AT = "run_at"
    LEASE = "lease"


ENUMS: dict[str, type[StrEnum]] = {"jobstream.commands.TimerPurpose": TimerPurpose}


@dataclass(frozen=True, slots=True, kw_only=True)
class SubmitJob(Command):
    """Create a new job from a spec."""

    avro_name: ClassVar[str] = "jobstream.commands.SubmitJob"
    envelope: CommandEnvelope
    spec: JobSpec


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelJob(Command):
    """Cancel a job; a running execution is asked to stop."""

    avro_name: ClassVar[str] = "jobstream.commands.CancelJob"
    envelope: CommandEnvelope
    reason: str = "cancelled by user"


@dataclass(frozen=True, slots=True, kw_only=True)
class PauseJob(Command):
    """Stop scheduling new runs of a job until resumed."""

    avro_name: ClassVar[str] = "jobstream.commands.PauseJob"
    envelope: CommandEnvelope


@dataclass(frozen=True, slots=True, kw_only=True)
class ResumeJob(Command):
    """Resume a paused job."""

    avro_name: ClassVar[str] = "jobstream.commands.ResumeJob"
    envelope: CommandEnvelope


@dataclass(frozen=True, slots=True, kw_only=True)
class UpdateJob(Command):
    """Change parts of a job's spec."""

    avro_name: ClassVar[str] = "jobstream.commands.UpdateJob"
    envelope: CommandEnvelope
    patch: JobPatch


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryJob(Command):
    """Manually run a failed or cancelled job again."""

    avro_name: ClassVar[str] = "jobstream.commands.RetryJob"
    envelope: CommandEnvelope


@dataclass(frozen=True, slots=True, kw_only=True)
class RedriveJob(Command):
    """Move a dead-lettered job back to the queue with a fresh attempt budget."""

    avro_name: ClassVar[str] = "jobstream.commands.RedriveJob"
    envelope: CommandEnvelope


@dataclass(frozen=True, slots=True, kw_only=True)
class AssignJob(Command):
    """Dispatcher's decision to hand a queued execution to a worker."""

    avro_name: ClassVar[str] = "jobstream.commands.AssignJob"
    envelope: CommandEnvelope
    execution_id: str
    attempt: int
    worker_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportStarted(Command):
    """Worker reports that the execution's process/request has started."""

    avro_name: ClassVar[str] = "jobstream.commands.ReportStarted"
    envelope: CommandEnvelope
    execution_id: str
    attempt: int
    worker_id: str
    pid: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportProgress(Command):
    """Worker reports progress of a running execution."""

    avro_name: ClassVar[str] = "jobstream.commands.ReportProgress"
    envelope: CommandEnvelope
    execution_id: str
    attempt: int
    worker_id: str
    percent: float | None = None
    message: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportFinished(Command):
    """Worker reports how an execution ended."""

    avro_name: ClassVar[str] = "jobstream.commands.ReportFinished"
    envelope: CommandEnvelope
    execution_id: str
    attempt: int
    worker_id: str
    outcome: Outcome
    exit_code: int | None = None
    result_json: str | None = None
    stdout_tail: str = ""
    stderr_tail: str = ""
    error: str | None = None
    duration_ms: int = 0
    log_records: int | None = None  # records on the logs topic, eof included; 0: no output, no eof


@dataclass(frozen=True, slots=True, kw_only=True)
class FireTimer(Command):
    """A durable timer became due."""

    avro_name: ClassVar[str] = "jobstream.commands.FireTimer"
    envelope: CommandEnvelope
    timer_id: str
    due_at: datetime
    purpose: TimerPurpose


@dataclass(frozen=True, slots=True, kw_only=True)
class ExpireExecution(Command):
    """An execution's lease expired or its worker was lost; end it as lost."""

    avro_name: ClassVar[str] = "jobstream.commands.ExpireExecution"
    envelope: CommandEnvelope
    execution_id: str
    attempt: int
    worker_id: str
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class NotifyUpstreamFinished(Command):
    """An upstream job this job depends on reached a terminal state."""

    avro_name: ClassVar[str] = "jobstream.commands.NotifyUpstreamFinished"
    envelope: CommandEnvelope
    upstream_job_id: str
    upstream_status: str
    upstream_result_json: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RegisterDependent(Command):
    """Sent to an upstream job: tell this dependent when you reach a final state."""

    avro_name: ClassVar[str] = "jobstream.commands.RegisterDependent"
    envelope: CommandEnvelope
    dependent_job_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ReturnAssignment(Command):
    """A worker hands back an assignment it has no room for: queue the job again, no try used up."""

    avro_name: ClassVar[str] = "jobstream.commands.ReturnAssignment"
    envelope: CommandEnvelope
    execution_id: str
    attempt: int
    worker_id: str
    reason: str


RECORDS: tuple[type[Command], ...] = (
    SubmitJob, CancelJob, PauseJob, ResumeJob, UpdateJob, RetryJob, RedriveJob,
    AssignJob, ReportStarted, ReportProgress, ReportFinished, FireTimer,
    ExpireExecution, NotifyUpstreamFinished, RegisterDependent, ReturnAssignment,
)

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
    avro_name: ClassVar[str] = "jobstream.commands.SubmitJob"
    envelope: CommandEnvelope
    spec: JobSpec


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelJob(Command):
    avro_name: ClassVar[str] = "jobstream.commands.CancelJob"
    envelope: CommandEnvelope
    reason: str = "cancelled by user"


@dataclass(frozen=True, slots=True, kw_only=True)
class PauseJob(Command):
    avro_name: ClassVar[str] = "jobstream.commands.PauseJob"
    envelope: CommandEnvelope


@dataclass(frozen=True, slots=True, kw_only=True)
class ResumeJob(Command):
    avro_name: ClassVar[str] = "jobstream.commands.ResumeJob"
    envelope: CommandEnvelope


@dataclass(frozen=True, slots=True, kw_only=True)
class UpdateJob(Command):
    avro_name: ClassVar[str] = "jobstream.commands.UpdateJob"
    envelope: CommandEnvelope
    patch: JobPatch


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryJob(Command):
    avro_name: ClassVar[str] = "jobstream.commands.RetryJob"
    envelope: CommandEnvelope


@dataclass(frozen=True, slots=True, kw_only=True)
class RedriveJob(Command):
    avro_name: ClassVar[str] = "jobstream.commands.RedriveJob"
    envelope: CommandEnvelope


@dataclass(frozen=True, slots=True, kw_only=True)
class AssignJob(Command):
    avro_name: ClassVar[str] = "jobstream.commands.AssignJob"
    envelope: CommandEnvelope
    execution_id: str
    attempt: int
    worker_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportStarted(Command):
    avro_name: ClassVar[str] = "jobstream.commands.ReportStarted"
    envelope: CommandEnvelope
    execution_id: str
    attempt: int
    worker_id: str
    pid: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportProgress(Command):
    avro_name: ClassVar[str] = "jobstream.commands.ReportProgress"
    envelope: CommandEnvelope
    execution_id: str
    attempt: int
    worker_id: str
    percent: float | None = None
    message: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportFinished(Command):
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


@dataclass(frozen=True, slots=True, kw_only=True)
class FireTimer(Command):
    avro_name: ClassVar[str] = "jobstream.commands.FireTimer"
    envelope: CommandEnvelope
    timer_id: str
    due_at: datetime
    purpose: TimerPurpose


@dataclass(frozen=True, slots=True, kw_only=True)
class ExpireExecution(Command):
    avro_name: ClassVar[str] = "jobstream.commands.ExpireExecution"
    envelope: CommandEnvelope
    execution_id: str
    attempt: int
    worker_id: str
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class NotifyUpstreamFinished(Command):
    avro_name: ClassVar[str] = "jobstream.commands.NotifyUpstreamFinished"
    envelope: CommandEnvelope
    upstream_job_id: str
    upstream_status: str


RECORDS: tuple[type[Command], ...] = (
    SubmitJob, CancelJob, PauseJob, ResumeJob, UpdateJob, RetryJob, RedriveJob,
    AssignJob, ReportStarted, ReportProgress, ReportFinished, FireTimer,
    ExpireExecution, NotifyUpstreamFinished,
)

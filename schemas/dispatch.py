"""Dispatch records (jobstream.dispatch): ready work, worker credits, assignments, dead letters.

They are not job events (those are the state processor's alone): they carry work between the
state processor, the dispatcher and the workers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar

from .base import Record
from .common import DEFAULT_NAMESPACE, JobSpec


class DispatchRecord(Record):
    """Base of every dispatch record."""

    __slots__ = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class JobReady(DispatchRecord):
    avro_name: ClassVar[str] = "jobstream.dispatch.JobReady"
    job_id: str
    execution_id: str
    attempt: int
    queue: str
    priority: int
    spec: JobSpec
    enqueued_at: datetime
    namespace: str = DEFAULT_NAMESPACE  # the job's: counted against the namespace's in-flight cap


@dataclass(frozen=True, slots=True, kw_only=True)
class JobWithdrawn(DispatchRecord):
    avro_name: ClassVar[str] = "jobstream.dispatch.JobWithdrawn"
    job_id: str
    attempt: int
    queue: str
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerCredit(DispatchRecord):
    avro_name: ClassVar[str] = "jobstream.dispatch.WorkerCredit"
    worker_id: str
    queue: str
    free_slots: int
    received: int
    cpu_free: float
    memory_mb_free: int
    labels: dict[str, str] = field(default_factory=dict)
    issued_at: datetime
    running: int | None = None  # executions of this queue running on the worker; None: not said
    incarnation: int | None = None  # the worker process's start (µs); None: not said
    seq: int | None = None  # grows with each credit of one incarnation; None: not said
    running_namespaces: dict[str, int] = field(default_factory=dict)  # running of this queue per namespace


@dataclass(frozen=True, slots=True, kw_only=True)
class Assignment(DispatchRecord):
    avro_name: ClassVar[str] = "jobstream.dispatch.Assignment"
    job_id: str
    execution_id: str
    attempt: int
    worker_id: str
    spec: JobSpec
    assigned_at: datetime
    namespace: str = DEFAULT_NAMESPACE  # the job's: the worker's credits count what it runs per namespace


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelExecution(DispatchRecord):
    avro_name: ClassVar[str] = "jobstream.dispatch.CancelExecution"
    job_id: str
    execution_id: str
    attempt: int
    worker_id: str
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DeadLetter(DispatchRecord):
    avro_name: ClassVar[str] = "jobstream.dispatch.DeadLetter"
    job_id: str
    spec: JobSpec
    attempts: int
    last_error: str | None = None
    dead_lettered_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class DrainWorker(DispatchRecord):
    avro_name: ClassVar[str] = "jobstream.dispatch.DrainWorker"
    worker_id: str
    reason: str = ""
    requested_by: str = ""
    requested_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class ArmedTimer(Record):
    avro_name: ClassVar[str] = "jobstream.dispatch.ArmedTimer"
    timer_id: str
    due_at: datetime
    purpose: str


@dataclass(frozen=True, slots=True, kw_only=True)
class TimerChange(DispatchRecord):
    avro_name: ClassVar[str] = "jobstream.dispatch.TimerChange"
    job_id: str
    arm: list[ArmedTimer] = field(default_factory=list)
    disarm: list[str] = field(default_factory=list)
    disarm_job: bool = False
    caused_by: str = ""


RECORDS: tuple[type[Record], ...] = (JobReady, JobWithdrawn, WorkerCredit, Assignment, CancelExecution, DeadLetter,
                                     DrainWorker, ArmedTimer, TimerChange)

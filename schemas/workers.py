"""Worker events (jobstream.workers): worker lifecycle and liveness, keyed by worker_id."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar

from .base import Record
from .common import WorkerEnvelope


class WorkerEvent(Record):
    """Base of every worker event; `isinstance(x, WorkerEvent)` identifies them."""

    __slots__ = ()
    envelope: WorkerEnvelope


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerRegistered(WorkerEvent):
    """A worker came online and announced its capacity."""

    avro_name: ClassVar[str] = "jobstream.workers.WorkerRegistered"
    envelope: WorkerEnvelope
    hostname: str
    pid: int
    queues: list[str] = field(default_factory=list)
    slots: int
    cpu: float
    memory_mb: int
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerHeartbeat(WorkerEvent):
    """Periodic liveness and load report."""

    avro_name: ClassVar[str] = "jobstream.workers.WorkerHeartbeat"
    envelope: WorkerEnvelope
    running: list[str] = field(default_factory=list)
    free_slots: int
    load_1m: float | None = None
    assignments_read_to: int = -1  # every assignment below this offset of its partition has been read


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerDraining(WorkerEvent):
    """The worker accepts no new executions and will stop when idle."""

    avro_name: ClassVar[str] = "jobstream.workers.WorkerDraining"
    envelope: WorkerEnvelope


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerDeregistered(WorkerEvent):
    """The worker shut down cleanly."""

    avro_name: ClassVar[str] = "jobstream.workers.WorkerDeregistered"
    envelope: WorkerEnvelope


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerLost(WorkerEvent):
    """The worker missed its heartbeats and is considered dead."""

    avro_name: ClassVar[str] = "jobstream.workers.WorkerLost"
    envelope: WorkerEnvelope
    last_heartbeat_at: datetime
    reason: str


RECORDS: tuple[type[WorkerEvent], ...] = (
    WorkerRegistered, WorkerHeartbeat, WorkerDraining, WorkerDeregistered, WorkerLost,
)

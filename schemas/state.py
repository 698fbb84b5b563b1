"""Processor state kept in changelog-backed stores (jobstream.state): versioned Avro records like
the events, so a store written by an older release is read through schema resolution."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import ClassVar

from .base import Record


class Liveness(StrEnum):
    ACTIVE = "active"
    DRAINING = "draining"
    LOST = "lost"


@dataclass(frozen=True, slots=True, kw_only=True)
class Held(Record):
    """One execution a worker holds (or was sent and may hold)."""

    avro_name: ClassVar[str] = "jobstream.state.Held"
    execution_id: str
    job_id: str
    attempt: int
    listed: bool = False  # a heartbeat has listed it: the worker runs it
    unlisted: int = 0  # heartbeats since it was sent that did not list it (while not listed yet)


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerLiveness(Record):
    avro_name: ClassVar[str] = "jobstream.state.WorkerLiveness"
    worker_id: str
    status: Liveness
    last_seen: datetime  # the monitor's clock when its last registration or heartbeat arrived
    last_heartbeat_at: datetime  # the worker's own time of that record (for the WorkerLost event)
    last_seq: int = 0  # highest seq seen on the worker's key (its records and WorkerLost)
    held: dict[str, Held] = field(default_factory=dict)  # never mutated: replaced


@dataclass(frozen=True, slots=True, kw_only=True)
class PendingTimer(Record):
    """A timer armed and not fired yet (the timer processor's store)."""

    avro_name: ClassVar[str] = "jobstream.state.PendingTimer"
    timer_id: str
    job_id: str
    due_at: datetime
    purpose: str


RECORDS: tuple[type[Record], ...] = (Held, WorkerLiveness, PendingTimer)
ENUMS: dict[str, type[StrEnum]] = {"jobstream.state.Liveness": Liveness}

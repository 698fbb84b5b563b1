"""Processor state kept in changelog-backed stores (jobstream.state): versioned Avro records like
the events, so a store written by an older release is read through schema resolution."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import ClassVar

from .base import Record
from .common import DEFAULT_NAMESPACE, JobSpec


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
    offset: int = -1  # the assignment's offset in the assignments topic
    unread_since: datetime | None = None  # when a heartbeat first said the worker had not read it


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


@dataclass(frozen=True, slots=True, kw_only=True)
class JobStateFields(Record):
    """Every field of a job's state (``core.state.JobState``) but the decisions cut short;
    ``streams/state_record.py`` maps one to the other."""

    avro_name: ClassVar[str] = "jobstream.state.JobStateFields"
    job_id: str
    seq: int = 0
    status: str | None = None  # a core.lifecycle.Status (core imports schemas, not the reverse)
    spec: JobSpec | None = None
    attempt: int = 0
    tries: int = 0
    execution_id: str | None = None
    worker_id: str | None = None
    last_error: str | None = None
    submitted_at: datetime | None = None
    updated_at: datetime | None = None
    recent_commands: list[str] = field(default_factory=list)
    next_run_at: datetime | None = None
    last_due: datetime | None = None
    runs: int = 0
    active_runs: list[str] = field(default_factory=list)
    schedule_anchor: datetime | None = None
    waiting_on: list[str] = field(default_factory=list)
    dependents: list[str] = field(default_factory=list)
    result_json: str | None = None
    namespace: str = DEFAULT_NAMESPACE
    retry_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class IncompleteDecision(Record):
    """A decision whose events stopped before its last (``core.state.Incomplete``)."""

    avro_name: ClassVar[str] = "jobstream.state.IncompleteDecision"
    command_id: str
    occurred_at: datetime
    before: JobStateFields


@dataclass(frozen=True, slots=True, kw_only=True)
class JobStateValue(Record):
    """A job's state (the state processor's store): its fields, then its decisions cut short,
    outermost first (a list: the schema is not recursive)."""

    avro_name: ClassVar[str] = "jobstream.state.JobStateValue"
    state: JobStateFields
    incomplete: list[IncompleteDecision] = field(default_factory=list)


RECORDS: tuple[type[Record], ...] = (Held, WorkerLiveness, PendingTimer, JobStateFields, IncompleteDecision,
                                     JobStateValue)
ENUMS: dict[str, type[StrEnum]] = {"jobstream.state.Liveness": Liveness}

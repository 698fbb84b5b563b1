"""The read model's rows: one field per column of schema.sql.

Every row goes to and from Postgres through these classes (store.py), and the API's views are built
from them (api/views.py), so a column is named in exactly two places: schema.sql and here. Field
order is the order of the SELECTs in store.py (required fields first), not necessarily the DDL's.
Named tuples rather than dataclasses because the fold copies rows on every event and ``_replace`` is
several times cheaper than ``dataclasses.replace``. JSON columns hold plain dicts and lists; never
mutate them (defaults are shared), build new ones.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, NamedTuple

from jobstream.schemas import Outcome


class ExecutionStatus(StrEnum):
    """``executions.status``: waiting or running, then how the try ended (its ``Outcome``), or returned."""

    QUEUED = "queued"
    ASSIGNED = "assigned"
    RUNNING = "running"
    SUCCEEDED = Outcome.SUCCEEDED
    FAILED = Outcome.FAILED
    TIMED_OUT = Outcome.TIMED_OUT
    CANCELLED = Outcome.CANCELLED
    LOST = Outcome.LOST
    RETURNED = "returned"  # handed back by a worker with no room; it never ran


UNFINISHED_EXECUTION = frozenset({ExecutionStatus.QUEUED, ExecutionStatus.ASSIGNED, ExecutionStatus.RUNNING})
FINISHED_EXECUTION = frozenset(ExecutionStatus) - UNFINISHED_EXECUTION


def wrote_no_log(execution: dict[str, Any] | None) -> bool:
    """An execution row whose worker said it wrote nothing on the logs topic: no eof will come."""
    return execution is not None and execution.get("log_records") == 0


class WorkerStatus(StrEnum):
    """``workers.status``."""

    ACTIVE = "active"
    DRAINING = "draining"
    LOST = "lost"
    DEREGISTERED = "deregistered"


class JobRow(NamedTuple):
    job_id: str
    seq: int
    updated_at: datetime
    name: str | None = None
    queue: str | None = None
    priority: int | None = None
    status: str | None = None
    spec: dict[str, Any] | None = None
    labels: dict[str, str] = {}
    idempotency_key: str | None = None
    attempt: int = 0
    tries: int = 0
    execution_id: str | None = None
    worker_id: str | None = None
    exit_code: int | None = None
    last_error: str | None = None
    result_json: str | None = None
    next_run_at: datetime | None = None
    submitted_at: datetime | None = None
    queued_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    parent_job_id: str | None = None  # a run of a recurring job names that job
    runs: int = 0  # a recurring job's runs fired so far
    namespace: str = "default"  # the job's, from its events; readers see their namespace's jobs only
    submitted_by: str | None = None  # the actor of the submission: a submitter acts on its own jobs only


class ExecutionRow(NamedTuple):
    execution_id: str
    job_id: str
    attempt: int
    status: str
    worker_id: str | None = None
    queued_at: datetime | None = None
    assigned_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    exit_code: int | None = None
    error: str | None = None
    stdout_tail: str | None = None
    stderr_tail: str | None = None
    result_json: str | None = None
    duration_ms: int | None = None
    progress_percent: float | None = None
    progress_message: str | None = None
    log_records: int | None = None  # as its finish report said: 0, a silent execution wrote no eof


class WorkerRow(NamedTuple):
    worker_id: str
    seq: int
    status: str
    updated_at: datetime
    hostname: str | None = None
    pid: int | None = None
    queues: list[str] = []
    slots: int | None = None
    cpu: float | None = None
    memory_mb: int | None = None
    labels: dict[str, str] = {}
    running: list[str] = []
    free_slots: int | None = None
    registered_at: datetime | None = None
    last_heartbeat_at: datetime | None = None
    namespace: str = "default"


class EventRow(NamedTuple):
    event_id: str
    job_id: str
    seq: int
    type: str
    occurred_at: datetime
    actor: str
    causation_id: str | None
    correlation_id: str | None
    payload: dict[str, Any]
    namespace: str = "default"


class PoisonedRow(NamedTuple):
    """A command set aside on the poison topic (never decided), by its id."""

    command_id: str
    job_id: str | None
    reason: str
    origin_topic: str
    origin_partition: int
    origin_offset: int
    set_aside_at: datetime


class AuditRow(NamedTuple):
    """One request the API audited (an ``AuditEntry``): a change, or a refusal."""

    entry_id: str
    at: datetime
    actor: str
    role: str | None
    namespace: str | None
    address: str | None
    action: str
    method: str
    route: str
    target: str | None
    status: int
    detail: str


class TemplateRow(NamedTuple):
    name: str
    latest: int  # the last version's number: a row is only ever replaced by a later one
    versions: list[dict[str, Any]]  # every version, oldest first (the API's TemplateVersionView)
    updated_at: datetime  # when the last version was created


Row = JobRow | ExecutionRow | WorkerRow | EventRow | PoisonedRow | TemplateRow | AuditRow


def columns(cls: type[Row]) -> tuple[str, ...]:
    """Column names of a row class, in field order (the order of the INSERT statements)."""
    return cls._fields



def audit_row(entry: Any) -> AuditRow:
    """The row of an ``AuditEntry`` (its fields, in the row's order)."""
    return AuditRow(*(getattr(entry, name) for name in AuditRow._fields))

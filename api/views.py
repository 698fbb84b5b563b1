"""Response bodies: rows of the read model as JSON, documented in the OpenAPI schema.

Columns the projector adds later pass through (``extra="allow"``); datetimes are UTC, ISO-8601.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class _Row(BaseModel):
    model_config = ConfigDict(extra="allow")


class JobView(_Row):
    job_id: str
    status: str | None = None
    seq: int | None = None
    name: str | None = None
    queue: str | None = None
    priority: int | None = None
    spec: dict[str, Any] | None = None
    labels: dict[str, Any] | None = None
    idempotency_key: str | None = None
    attempt: int | None = None
    tries: int | None = None
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
    updated_at: datetime | None = None
    parent_job_id: str | None = None  # on a run of a recurring job: that job
    runs: int | None = None  # on a recurring job: runs fired so far
    waiting_reason: str | None = None  # on GET of a queued job that no live worker can take: why


class ExecutionView(_Row):
    execution_id: str
    job_id: str
    attempt: int
    worker_id: str | None = None
    status: str
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


class WorkerView(_Row):
    worker_id: str
    seq: int
    status: str
    hostname: str | None = None
    pid: int | None = None
    queues: list[Any] = []
    slots: int | None = None
    cpu: float | None = None
    memory_mb: int | None = None
    labels: dict[str, Any] = {}
    running: list[Any] = []
    free_slots: int | None = None
    registered_at: datetime | None = None
    last_heartbeat_at: datetime | None = None
    updated_at: datetime | None = None


class EventView(_Row):
    event_id: str
    job_id: str
    seq: int
    type: str
    occurred_at: datetime
    actor: str
    causation_id: str | None = None
    correlation_id: str | None = None
    payload: dict[str, Any]


class JobPage(BaseModel):
    items: list[JobView]
    next_cursor: str | None = None


class ExecutionPage(BaseModel):
    items: list[ExecutionView]
    next_cursor: str | None = None


class WorkerPage(BaseModel):
    items: list[WorkerView]
    next_cursor: str | None = None


class EventList(BaseModel):
    items: list[EventView]


class ExecutionList(BaseModel):
    items: list[ExecutionView]


class Problem(BaseModel):
    """RFC 9457 problem details (``application/problem+json``)."""

    model_config = ConfigDict(extra="allow")
    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[dict[str, str]] | None = None


# For the OpenAPI ``responses=`` of routes: errors are documented as problem+json.
PROBLEM: dict[str, Any] = {"model": Problem, "content": {"application/problem+json": {}}}

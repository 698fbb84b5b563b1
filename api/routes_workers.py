"""``/v1/workers``: list and read workers, register one that is not our Python process, hand a
worker the key it signs its reports with, drain one.

Reads come from the read model (the projector folds the workers topic into ``workers``). Writes
are records on the topics, as everywhere: a registration is a ``WorkerRegistered`` on the workers
topic, a drain request a ``DrainWorker`` on the worker's partition of the assignments topic,
which the worker obeys as it obeys SIGTERM.
"""

from __future__ import annotations

import asyncio
import base64
import re
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from jobstream.api.auth import Caller, check_worker
from jobstream.api.context import ApiContext, Context, Cursor, LabelFilter, WorkerId
from jobstream.api.paging import decode_cursor, next_cursor
from jobstream.api.problems import ApiProblem
from jobstream.api.query import label_pairs
from jobstream.api.store import Contains, Filter
from jobstream.api.views import PROBLEM, WorkerView
from jobstream.core.liveness import DEFAULT_WINDOW_S, HEARTBEAT_S
from jobstream.core.report_keys import REPORT_MAC_HEADER, worker_report_key
from jobstream.projections.rows import WorkerStatus
from jobstream.schemas import DrainWorker, WorkerEnvelope, WorkerRegistered
from jobstream.streams.kafka_io import Publisher, partition_for

_NAME = r"^[A-Za-z0-9][A-Za-z0-9._:@-]*$"  # ids and queue names travel as Kafka keys and in URLs


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


Name = Annotated[str, Field(min_length=1, max_length=200, pattern=_NAME)]
Label = Annotated[str, AfterValidator(_no_nul), Field(min_length=1, max_length=200)]


class WorkerDetail(WorkerView):
    running_count: int = 0


class WorkerList(BaseModel):
    items: list[WorkerDetail]
    next_cursor: str | None = None


class RegisterIn(BaseModel):
    """A worker announcing itself: what it serves and what it offers."""

    model_config = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False)
    worker_id: Name | None = None
    hostname: Label
    pid: Annotated[int, Field(ge=0, le=2**31 - 1)] = 0
    queues: Annotated[list[Name], Field(min_length=1, max_length=100)]
    slots: Annotated[int, Field(ge=1, le=100_000)]
    cpu: Annotated[float, Field(gt=0, le=1_000_000)]
    memory_mb: Annotated[int, Field(ge=0, le=2**40)]
    labels: dict[Label, Label] = Field(default_factory=dict)


class Registration(BaseModel):
    """What a registered worker needs to know to take work and stay alive."""

    worker_id: str
    seq: int = Field(description="seq of the WorkerRegistered; continue the worker's records from seq + 1")
    workers_topic: str
    assignments_topic: str
    assignments_partition: int = Field(description="read this partition, and only records keyed by worker_id")
    dispatch_topic: str = Field(description="send WorkerCredit records here, keyed by queue")
    heartbeat_s: float
    lost_after_s: float = Field(description="a worker silent for this long is declared lost")


class ReportKey(BaseModel):
    """How a worker signs its reports to the commands topic (docs/security.md, Workers)."""

    worker_id: str
    key: str = Field(description="base64: the HMAC-SHA256 key of this worker's reports")
    header: str = Field(description="the Kafka header each report carries: HMAC-SHA256 of its value's bytes")


class DrainOut(BaseModel):
    worker_id: str
    status: str
    drain_requested: bool = True


def _detail(row: dict[str, Any]) -> WorkerDetail:
    return WorkerDetail.model_validate({**row, "running_count": len(row.get("running") or [])})


def workers_router() -> APIRouter:
    router = APIRouter(prefix="/v1/workers", tags=["workers"])

    @router.get("", response_model=WorkerList)
    async def list_workers(context: Context, caller: Caller,
                           status: Annotated[list[WorkerStatus] | None, Query()] = None, label: LabelFilter = None,
                           limit: Annotated[int, Query(ge=1, le=1000)] = 100, cursor: Cursor = None) -> WorkerList:
        """Workers by id, filtered by status and labels; pass ``next_cursor`` back as ``cursor``."""
        statuses = [s.value for s in status] if status else None
        filters = Filter({"namespace": caller.namespace, "status": statuses, "labels": Contains(label_pairs(label))})
        rows = await context.store.page("workers", "worker_id", filters, limit, decode_cursor(cursor),
                                        descending=False)
        items, following = next_cursor(rows, limit, "worker_id")
        return WorkerList(items=[_detail(r) for r in items], next_cursor=following)

    @router.get("/{worker_id}", response_model=WorkerDetail, responses={404: PROBLEM})
    async def get_worker(worker_id: WorkerId, context: Context) -> WorkerDetail:
        row = await context.store.worker(worker_id)
        if row is None:
            raise ApiProblem(404, "not-found", f"worker {worker_id} does not exist")
        return _detail(row)

    @router.post("/register", response_model=Registration, status_code=201, responses={413: PROBLEM, 503: PROBLEM})
    async def register_worker(request: Request, body: RegisterIn, context: Context, caller: Caller) -> Registration:
        """Register a worker that is not ``jobstream worker`` (another language, say). It must then
        heartbeat on the workers topic every ``heartbeat_s``, continuing from ``seq``. A worker key
        bound to a worker id registers that worker only (its id when the body names none)."""
        worker_id = body.worker_id or caller.worker_id or _new_worker_id(body.hostname)
        check_worker(request, caller, worker_id)
        known = await context.store.worker(worker_id)
        seq = int(known["seq"]) + 1 if known else 1  # a registration again goes above what was seen
        topics = context.publisher.topics
        envelope = WorkerEnvelope(event_id=f"{worker_id}:{seq}", worker_id=worker_id, seq=seq,
                                  type=WorkerRegistered.short_name(), occurred_at=datetime.now(UTC),
                                  actor=caller.actor, namespace=caller.namespace)
        record = WorkerRegistered(envelope=envelope, hostname=body.hostname, pid=body.pid, queues=list(body.queues),
                                  slots=body.slots, cpu=body.cpu, memory_mb=body.memory_mb, labels=dict(body.labels))
        await context.commands.acked(lambda: context.publisher.publish_acked(topics.workers, worker_id, record),
                                     worker_id=worker_id)
        partitions = await _partitions(context.publisher, topics.assignments)
        return Registration(worker_id=worker_id, seq=seq, workers_topic=topics.workers,
                            assignments_topic=topics.assignments,
                            assignments_partition=partition_for(worker_id, partitions),
                            dispatch_topic=topics.dispatch, heartbeat_s=HEARTBEAT_S, lost_after_s=DEFAULT_WINDOW_S)

    @router.post("/{worker_id}/report-key", response_model=ReportKey, responses={404: PROBLEM})
    async def report_key(request: Request, response: Response, worker_id: WorkerId, caller: Caller) -> ReportKey:
        """The key worker ``worker_id`` signs its reports with; the state processor sets aside a
        report for a worker that is not signed with that worker's key. A worker key bound to another
        worker id gets 403; 404 when this deployment does not check reports."""
        check_worker(request, caller, worker_id)
        secret: bytes | None = request.app.state.reports_secret
        if secret is None:
            raise ApiProblem(404, "reports-unchecked", "this deployment does not check worker reports: send them "
                                                       "unsigned (no reports secret is configured)")
        response.headers["Cache-Control"] = "no-store"
        key = base64.b64encode(worker_report_key(secret, worker_id)).decode()
        return ReportKey(worker_id=worker_id, key=key, header=REPORT_MAC_HEADER)

    @router.post("/{worker_id}/drain", response_model=DrainOut, status_code=202,
                 responses={404: PROBLEM, 409: PROBLEM, 503: PROBLEM})
    async def drain_worker(worker_id: WorkerId, context: Context, caller: Caller,
                           reason: Annotated[str, Query(max_length=500, pattern=r"^[^\x00]*$")] = "") -> DrainOut:
        """Ask a worker to drain: it finishes what runs, takes nothing new, then deregisters."""
        return await request_drain(context, worker_id, reason, caller.actor)

    return router


async def request_drain(context: ApiContext, worker_id: str, reason: str, actor: str) -> DrainOut:
    """Send a worker its ``DrainWorker``; 404 for a worker unknown, 409 for one that is gone."""
    row = await context.store.worker(worker_id)
    if row is None:
        raise ApiProblem(404, "not-found", f"worker {worker_id} does not exist")
    if row["status"] in (WorkerStatus.LOST, WorkerStatus.DEREGISTERED):
        raise ApiProblem(409, "conflict", f"worker {worker_id} is {row['status']}: there is nothing to drain")
    request = DrainWorker(worker_id=worker_id, reason=reason, requested_by=actor,
                          requested_at=datetime.now(UTC))
    assignments = context.publisher.topics.assignments
    await context.commands.acked(lambda: context.publisher.publish_acked(assignments, worker_id, request),
                                 worker_id=worker_id)
    return DrainOut(worker_id=worker_id, status=str(row["status"]))


def _new_worker_id(hostname: str) -> str:
    return f"{re.sub(r'[^A-Za-z0-9.-]', '-', hostname)[:60]}-{uuid.uuid4().hex[:8]}"


async def _partitions(publisher: Publisher, topic: str) -> int:
    """The topic's partition count, from the producer's metadata."""
    metadata = await asyncio.to_thread(publisher.producer.list_topics, topic, 10)
    return len(metadata.topics[topic].partitions)

"""``/v1/jobs:batch`` and ``/v1/jobs:cancel``: many jobs in one request, in one Kafka transaction."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Response
from pydantic import BaseModel

from jobstream.api.bulk import BULK_OPERATIONS
from jobstream.api.context import NO_NUL, Context
from jobstream.api.models import BatchRequest, BulkCancelRequest
from jobstream.api.store import Contains, Filter, StartsWith
from jobstream.api.views import PROBLEM

IdempotencyKey = Annotated[str | None, Header(min_length=1, max_length=200, pattern=NO_NUL)]


class BatchJobRef(BaseModel):
    ref: str | None
    job_id: str


class BatchAnswer(BaseModel):
    jobs: list[BatchJobRef]  # in request order
    refs: dict[str, str]


class BulkCancelAnswer(BaseModel):
    matched: int
    cancelled_requested: int
    request_id: str


BATCH_EXAMPLE: dict[str, Any] = {"jobs": [
    {"ref": "extract", "name": "extract", "task": {"type": "shell", "argv": ["true"]}},
    {"ref": "load", "name": "load", "task": {"type": "shell", "argv": ["true"]},
     "depends_on": [{"ref": "extract"}]},
]}


def batch_router() -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["jobs"])

    @router.post("/jobs:batch", status_code=202, response_model=BatchAnswer, responses={
        200: {"model": BatchAnswer, "description": "the same idempotency_key was used before: nothing sent"},
        413: PROBLEM, 503: PROBLEM})
    async def submit_batch(body: Annotated[BatchRequest, Body(examples=[BATCH_EXAMPLE])], response: Response,
                           context: Context, idempotency_key: IdempotencyKey = None) -> BatchAnswer:
        """Submit up to 10,000 jobs at once, all or none. Each is a ``POST /v1/jobs`` body plus an
        optional ``ref``; ``depends_on`` may name ``{"ref": ...}`` of the batch or ``{"job_id": ...}``.
        A cycle, an unknown ref or an invalid job is a 422 naming it (``jobs[3].depends_on[0].ref``),
        and nothing is submitted. Answers 202 with each ref's job_id once the batch is durable; with
        an ``idempotency_key`` (or ``Idempotency-Key`` header), a repeat answers 200 and sends nothing."""
        if body.idempotency_key is None and idempotency_key:
            body = body.model_copy(update={"idempotency_key": idempotency_key})
        accepted = await context.bulk.submit_batch(body)
        if accepted.existing:
            response.status_code = 200
        return BatchAnswer.model_validate({"jobs": accepted.jobs, "refs": accepted.refs})

    @router.post("/jobs:cancel", status_code=202, response_model=BulkCancelAnswer, responses={
        413: PROBLEM, 503: PROBLEM})
    async def cancel_matching(body: BulkCancelRequest, context: Context,
                              idempotency_key: IdempotencyKey = None) -> BulkCancelAnswer:
        """Cancel every unfinished job matching all the filters given (at most 10,000 per request;
        ``matched`` counts them all). A retry with the same ``request_id`` (or ``Idempotency-Key``
        header) sends the same command ids, so nothing is cancelled twice."""
        label = dict([pair]) if (pair := body.label_pair()) else {}
        filters = Filter({"queue": body.queue, "status": body.status, "labels": Contains(label),
                          "name": StartsWith(body.name_prefix) if body.name_prefix else None})
        done = await context.bulk.act_matching(BULK_OPERATIONS["cancel"], filters, body.request_id or idempotency_key,
                                               body.reason)
        return BulkCancelAnswer(matched=done.matched, cancelled_requested=done.requested, request_id=done.request_id)

    return router

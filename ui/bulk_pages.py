"""Cancelling every unfinished job that matches the jobs list's filters: a dry run first (how many,
which), then one confirmed request (``BulkCommands.cancel_matching``, one Kafka transaction)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError

from jobstream.api.auth import Caller
from jobstream.api.context import Context, TextFilter
from jobstream.api.models import MAX_BATCH, BulkCancelRequest
from jobstream.api.problems import ApiProblem
from jobstream.ui.links import back_with, jobs_url
from jobstream.ui.queries import JobFilters
from jobstream.ui.render import page

SAMPLE = 10
FormText = Annotated[str, Form(max_length=300)]


def bulk_request(status: str | None, queue: str | None, name: str | None, label: str | None,
                 request_id: str | None = None) -> BulkCancelRequest | str:
    """The bulk cancel these filters make, or what is wrong with them, in words."""
    try:
        return BulkCancelRequest(status=status or None, queue=queue or None, name_prefix=name or None,
                                 label=label or None, request_id=request_id, reason="cancelled in bulk from the "
                                                                                    "dashboard")
    except ValidationError as error:
        return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'filters'}: {e['msg']}" for e in error.errors())


def _filters(request: BulkCancelRequest) -> JobFilters:
    return JobFilters(status=request.status, queue=request.queue, name_prefix=request.name_prefix,
                      label=dict([request.label_pair()]) if request.label_pair() else {})


def add_bulk_pages(router: APIRouter) -> None:
    @router.get("/bulk-cancel", response_class=HTMLResponse)
    async def dry_run(request: Request, context: Context, caller: Caller, status: TextFilter = None,
                      queue: TextFilter = None, name: TextFilter = None, label: TextFilter = None) -> HTMLResponse:
        """What cancelling by these filters would touch; nothing is sent."""
        bulk = bulk_request(status, queue, name, label)
        if isinstance(bulk, str):
            return page(request, "bulk_cancel.html", problem=bulk, status_code=422)
        sample, matched = await context.store.unfinished(caller.namespace, bulk.queue, bulk.status, bulk.label_pair(),
                                                         bulk.name_prefix, SAMPLE)
        return page(request, "bulk_cancel.html", bulk=bulk, matched=matched, sample=sample, limit=MAX_BATCH,
                    request_id=uuid.uuid4().hex, back=jobs_url(_filters(bulk)))

    @router.post("/bulk-cancel")
    async def confirm(context: Context, request_id: FormText, status: FormText = "", queue: FormText = "",
                      name: FormText = "", label: FormText = "") -> RedirectResponse:
        """Cancel them; the request id of the dry run makes a repeated confirmation cancel nothing twice."""
        bulk = bulk_request(status, queue, name, label, request_id)
        if isinstance(bulk, str):
            raise ApiProblem(422, "validation", bulk)
        done = await context.bulk.cancel_matching(bulk, request_id)
        notice = f"cancel sent to {done.cancelled_requested} of {done.matched} matching jobs"
        return back_with(jobs_url(_filters(bulk)), notice)

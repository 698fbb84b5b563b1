"""Acting on every job a filter matches (``BULK_OPERATIONS``: cancel or retry from the jobs list,
redrive from the dead letters): a dry run first (how many, which), then one confirmed request
(``BulkCommands.act_matching``, one Kafka transaction). The filters travel in the URL, as on the list."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from jobstream.api.bulk import BULK_OPERATIONS, BulkOperation
from jobstream.api.context import Context
from jobstream.api.models import MAX_BATCH
from jobstream.api.problems import ApiProblem
from jobstream.ui.filters import Filters
from jobstream.ui.links import Notice, back_with, bulk_url, dead_letters_url, jobs_url
from jobstream.ui.queries import JobFilters
from jobstream.ui.render import page

SAMPLE = 10
REASON = "cancelled in bulk from the dashboard"


def known_operation(operation: str) -> BulkOperation:
    if operation not in BULK_OPERATIONS:
        raise ApiProblem(404, "not-found", f"{operation!r} is no bulk action; there are {', '.join(BULK_OPERATIONS)}")
    return BULK_OPERATIONS[operation]


def list_url(operation: BulkOperation, filters: JobFilters) -> str:
    """The list the operation was asked from, with its filters: where to go back to."""
    return dead_letters_url(filters) if operation.dead_lettered else jobs_url(filters)


def add_bulk_pages(router: APIRouter) -> None:
    @router.get("/bulk-{operation}", response_class=HTMLResponse)
    async def dry_run(request: Request, operation: str, context: Context, filters: Filters,
                      notice: Notice = None) -> HTMLResponse:
        """What the operation would touch with these filters; nothing is sent."""
        op = known_operation(operation)
        if filters == JobFilters():
            return page(request, "bulk.html", op=op, back=list_url(op, filters), status_code=422,
                        problem="name at least one filter (not every job at once)")
        sample, matched = await context.bulk.matching(op, filters.filter(), SAMPLE)
        return page(request, "bulk.html", op=op, filters=filters, matched=matched, sample=sample, limit=MAX_BATCH,
                    notice=notice, request_id=uuid.uuid4().hex, back=list_url(op, filters),
                    confirm=bulk_url(op.name, filters))

    @router.post("/bulk-{operation}")
    async def confirm(operation: str, context: Context, filters: Filters,
                      request_id: Annotated[str, Form(min_length=1, max_length=300)],
                      expected_count: Annotated[int | None, Form(ge=0)] = None) -> RedirectResponse:
        """Act; the request id of the dry run makes a repeated confirmation send nothing twice, and its
        count (``expected_count``) that nothing is sent if more jobs match by now: the dry run again."""
        op = known_operation(operation)
        if filters == JobFilters():
            raise ApiProblem(422, "validation", "name at least one filter (not every job at once)")
        try:
            done = await context.bulk.act_matching(op, filters.filter(), request_id, REASON, expected_count)
        except ApiProblem as problem:
            if problem.slug != "selection-grew":
                raise
            return back_with(bulk_url(op.name, filters), f"nothing was sent: {problem.extra['matched']} jobs match "
                             f"now, not the {expected_count} shown; check them again before you confirm")
        return back_with(list_url(op, filters), f"{op.name} sent to {done.requested} of {done.matched} matching jobs")

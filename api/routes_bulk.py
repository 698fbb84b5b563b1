"""``/v1/jobs:bulk-cancel``, ``/v1/jobs:bulk-retry`` and ``/v1/dlq:redrive``: an operation of
``BULK_OPERATIONS`` (the dashboard's bulk actions are the same) on every job of the caller's
namespace that the filters select; a dry run first, then the action bounded by its count."""

from __future__ import annotations

from fastapi import APIRouter, Response

from jobstream.api.bulk import BULK_OPERATIONS, BulkOperation
from jobstream.api.bulk_models import SAMPLE, BulkAnswer, BulkRequest
from jobstream.api.context import Context
from jobstream.api.problems import ApiProblem, field_error
from jobstream.api.views import PROBLEM

# Each operation's route, declared once (the CLI's `jobstream bulk` reads it too).
BULK_PATHS = {"cancel": "/v1/jobs:bulk-cancel", "retry": "/v1/jobs:bulk-retry", "redrive": "/v1/dlq:redrive"}
WHAT = {"cancel": "Cancel every unfinished job", "retry": "Retry every failed job",
        "redrive": "Redrive every dead-lettered job"}


def _checked(body: BulkRequest) -> None:
    problems = body.problems()
    if problems:
        raise ApiProblem(422, "validation", "the request is not valid; see errors",
                         errors=[field_error(field, detail) for field, detail in problems])


def _add(router: APIRouter, operation: BulkOperation) -> None:
    async def act(body: BulkRequest, response: Response, context: Context) -> BulkAnswer:
        _checked(body)
        if body.dry_run:
            sample, matched = await context.bulk.matching(operation, body.filter(), SAMPLE)
            return BulkAnswer(dry_run=True, matched=matched, sample=sample)
        done = await context.bulk.act_matching(operation, body.filter(), body.request_id, body.reason,
                                               body.expected_count)
        response.status_code = 202
        return BulkAnswer(dry_run=False, matched=done.matched, requested=done.requested, request_id=done.request_id)

    act.__doc__ = (f"{WHAT[operation.name]} of the caller's namespace matching all the filters given. "
                   "``dry_run: true`` sends nothing and answers how many match and a sample of ids; to act, "
                   "pass that count as ``expected_count``: if more match now, nothing is sent (409). At most "
                   "10,000 commands per request, in one Kafka transaction; a retry with the same ``request_id`` "
                   "sends nothing twice.")
    router.add_api_route(BULK_PATHS[operation.name], act, methods=["POST"], response_model=BulkAnswer,
                         name=f"bulk_{operation.name}", responses={
                             202: {"model": BulkAnswer, "description": "sent: one command per matching job"},
                             409: PROBLEM, 503: PROBLEM})


def bulk_router() -> APIRouter:
    router = APIRouter(tags=["bulk"])
    for operation in BULK_OPERATIONS.values():
        _add(router, operation)
    return router

"""``/v1/executions`` and ``/v1/commands``: read-only views of the read model (workers: ``routes_workers.py``)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Query

from jobstream.api.auth import Caller
from jobstream.api.context import CommandId, Context, Cursor, ExecutionId, LabelFilter, Limit, TextFilter
from jobstream.api.paging import decode_cursor, next_cursor
from jobstream.api.problems import ApiProblem
from jobstream.api.query import label_pairs
from jobstream.api.store import Filter, OfJobsLabelled
from jobstream.api.views import PROBLEM, CommandView, ExecutionPage, ExecutionView
from jobstream.projections.rows import ExecutionStatus


def executions_router() -> APIRouter:
    router = APIRouter(prefix="/v1/executions", tags=["executions"])

    @router.get("", response_model=ExecutionPage)
    async def list_executions(context: Context, caller: Caller, job_id: TextFilter = None, worker_id: TextFilter = None,
                              status: Annotated[list[ExecutionStatus] | None, Query()] = None,
                              label: LabelFilter = None, limit: Limit = 50, cursor: Cursor = None) -> ExecutionPage:
        """Executions, newest job first, filtered by their job's labels too; pass ``next_cursor`` back as
        ``cursor`` for the next page."""
        statuses = [s.value for s in status] if status else None
        filters = Filter({"job_id": job_id, "worker_id": worker_id, "status": statuses,
                          "job_labels": OfJobsLabelled(label_pairs(label), context.store.table("jobs"),
                                                        caller.namespace)})
        rows = await context.store.page("executions", "execution_id", filters, limit, decode_cursor(cursor),
                                        descending=True)
        items, following = next_cursor(rows, limit, "execution_id")
        return ExecutionPage(items=[ExecutionView.model_validate(r) for r in items], next_cursor=following)

    @router.get("/{execution_id}", response_model=ExecutionView, responses={404: PROBLEM})
    async def get_execution(execution_id: ExecutionId, context: Context) -> ExecutionView:
        row = await context.store.execution(execution_id)
        if row is None:
            raise ApiProblem(404, "not-found", f"execution {execution_id} does not exist")
        return ExecutionView.model_validate(row)

    return router


def commands_router() -> APIRouter:
    router = APIRouter(prefix="/v1/commands", tags=["commands"])

    @router.get("/{command_id}", response_model=CommandView, responses={404: PROBLEM})
    async def get_command(command_id: CommandId, context: Context) -> CommandView:
        """What became of a command sent by any producer, by its id; 404 until it is decided or set aside."""
        result = await context.store.command_result(command_id)
        if result is None:
            raise ApiProblem(404, "not-found", f"nothing is known of command {command_id} (yet): it was not "
                                               "decided nor set aside, or its events are not projected")
        return CommandView.model_validate(asdict(result))

    return router

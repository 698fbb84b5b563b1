"""``GET /v1/executions/{id}/logs``: an execution's output in order, by cursor, while it runs and after.

Chunks come from ``execution_logs`` (the logs projector's table). ``next_after_seq`` is the
cursor for the next call; ``complete`` says the eof marker has been read (nothing follows), or the
execution ended without writing anything (its worker said so: no eof is written then);
``finished`` says the execution itself has ended (its last chunks may still be on their way:
followers stop on ``complete``, or on ``finished`` once no chunk came for a while, as a worker
that died never writes its eof).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from jobstream.api.context import Context, ExecutionId
from jobstream.api.problems import ApiProblem
from jobstream.api.views import PROBLEM, LogChunkView
from jobstream.projections.rows import FINISHED_EXECUTION, wrote_no_log


class LogPage(BaseModel):
    execution_id: str
    items: list[LogChunkView]
    next_after_seq: int
    complete: bool
    finished: bool
    status: str | None = None


def logs_router() -> APIRouter:
    router = APIRouter(prefix="/v1/executions", tags=["executions"])

    @router.get("/{execution_id}/logs", response_model=LogPage, responses={404: PROBLEM})
    async def execution_logs(execution_id: ExecutionId, context: Context,
                             after_seq: Annotated[int, Query(ge=0, le=2**62,
                                                             description="seq of the last chunk read")] = 0,
                             limit: Annotated[int, Query(ge=1, le=1000)] = 500) -> LogPage:
        """Chunks after ``after_seq``, in order; pass ``next_after_seq`` back to continue."""
        rows = await context.store.log_chunks(execution_id, after_seq, limit)
        execution = await context.store.execution(execution_id)
        if execution is None and not rows and after_seq == 0:
            raise ApiProblem(404, "not-found", f"execution {execution_id} does not exist")
        status = execution["status"] if execution else None
        items = [LogChunkView.model_validate(row) for row in rows]
        complete = wrote_no_log(execution) or any(item.eof for item in items) or (
            not items and await context.store.has_eof(execution_id, after_seq))
        return LogPage(execution_id=execution_id, items=items, next_after_seq=items[-1].seq if items else after_seq,
                       complete=complete, finished=status in FINISHED_EXECUTION, status=status)

    return router

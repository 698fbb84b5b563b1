"""``GET /v1/jobs/{id}:wait``: a long-poll that answers once the job is terminal, or when its bound passes.

The request subscribes to the job's NOTIFY (the projector sends one after each commit touching the
job) and re-reads the job on every wake-up, so a client waiting for a job's end sends one request
per ``timeout_s`` at most, never a busy loop. The answer is the job as it is then: a client checks
its status and asks again if it is not terminal yet.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from jobstream.api.context import Context, JobId
from jobstream.api.problems import ApiProblem
from jobstream.api.views import PROBLEM, JobView
from jobstream.core.lifecycle import TERMINAL

MAX_WAIT_S = 60.0


def wait_router() -> APIRouter:
    """Include before ``jobs_router``: its ``/v1/jobs/{job_id}`` would take ``...:wait`` for a job id."""
    router = APIRouter(prefix="/v1/jobs", tags=["jobs"])

    @router.get("/{job_id}:wait", response_model=JobView, responses={404: PROBLEM})
    async def wait_for_job(job_id: JobId, context: Context,
                           timeout_s: Annotated[float, Query(ge=0, le=MAX_WAIT_S,
                                                             description="longest wait, seconds")] = 30.0
                           ) -> JobView:
        """The job once it is completed, failed or cancelled, or as it is after ``timeout_s``; 404 at once
        for a job not in the read model (yet: one sent straight to Kafka shows a moment later)."""
        async def terminal() -> dict[str, Any] | None:
            job = await context.store.job(job_id)
            if job is None:
                raise ApiProblem(404, "not-found", f"job {job_id} does not exist (yet)")
            return job if job.get("status") in TERMINAL else None

        async with context.notifier.subscribe(job_id) as subscription:
            job = await subscription.wait_until(terminal, timeout_s, context.options.recheck_s)
        return JobView.model_validate(job or await context.store.job(job_id))

    return router

"""``/v1/jobs``: submit, read, list, cancel, and a job's executions and audit trail."""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Response
from pydantic import AwareDatetime

from jobstream.api.acting import acting_namespace
from jobstream.api.auth import Caller
from jobstream.api.commands import Reply, Result
from jobstream.api.context import Caps, Context, Cursor, JobId, LabelFilter, Limit, TextFilter
from jobstream.api.models import CancelRequest, CloneRequest, JobPatchIn, JobSubmission
from jobstream.api.paging import decode_cursor, decode_pair_cursor, next_cursor
from jobstream.api.problems import ApiProblem, field_error
from jobstream.api.query import label_pairs
from jobstream.api.store import Between, Contains, Filter, submission_key
from jobstream.api.time_travel import events_until, fold_history, state_view
from jobstream.api.views import PROBLEM, EventList, ExecutionList, JobPage, JobView
from jobstream.api.waiting import waiting_reason
from jobstream.core.state import Status
from jobstream.schemas import RedriveJob, RetryJob

SubmittedBound = Annotated[AwareDatetime | None, Query(description="a time with its zone (ISO 8601)")]
STATUS_CODES = {Reply.CREATED: 201, Reply.EXISTING: 200, Reply.ACCEPTED: 202, Reply.DONE: 200}


def job_location(job_id: str) -> str:
    return f"/v1/jobs/{job_id}"


def answer_with_job(result: Result, response: Response) -> JobView:
    response.status_code = STATUS_CODES[result.reply]
    response.headers["Location"] = job_location(result.job["job_id"])
    return JobView.model_validate(result.job)


async def counted_submit(context: Context, submitting: Awaitable[Result]) -> Result:
    """A submit's result, counted by how it was answered (``jobstream_api_submits_total``)."""
    try:
        result = await submitting
    except ApiProblem as problem:
        context.metrics.submits.labels(problem.slug, acting_namespace()).inc()
        raise
    context.metrics.submits.labels(result.reply.value, acting_namespace()).inc()
    return result


async def _known_job(context: Context, job_id: str) -> dict[str, Any]:
    job = await context.store.job(job_id)
    if job is None:
        raise ApiProblem(404, "not-found", f"job {job_id} does not exist")
    return job


async def _job_as_of(context: Context, job_id: str, as_of: datetime) -> JobView:
    state = fold_history(job_id, await events_until(context.store, job_id, as_of=as_of))
    if not state.exists:
        await _known_job(context, job_id)
        raise ApiProblem(404, "not-found", f"job {job_id} did not exist yet at {as_of.isoformat()}")
    return JobView.model_validate(state_view(state))


def dlq_router() -> APIRouter:
    router = APIRouter(prefix="/v1/dlq", tags=["dead letters"])

    @router.get("", response_model=JobPage)
    async def list_dead_letters(context: Context, caller: Caller, limit: Limit = 50, cursor: Cursor = None) -> JobPage:
        """Jobs that exhausted their retries, newest first."""
        rows = await context.store.dead_letters(caller.namespace, limit, decode_cursor(cursor))
        page, cursor_after = next_cursor(rows, limit, "job_id")
        return JobPage(items=[JobView.model_validate(r) for r in page], next_cursor=cursor_after)

    @router.post("/{job_id}/redrive", response_model=JobView, responses={
        202: {"model": JobView, "description": "sent, not yet visible in the read model"},
        404: PROBLEM, 409: PROBLEM, 503: PROBLEM})
    async def redrive(job_id: JobId, response: Response, context: Context) -> JobView:
        """Run a dead-lettered job again, as a new attempt with a fresh retry budget."""
        return answer_with_job(await context.commands.rerun(job_id, RedriveJob), response)

    return router


def jobs_router() -> APIRouter:
    router = APIRouter(prefix="/v1/jobs", tags=["jobs"])

    @router.post("", status_code=201, response_model=JobView, responses={
        200: {"model": JobView, "description": "the job already existed (same idempotency_key)"},
        202: {"model": JobView, "description": "accepted, not yet visible in the read model"},
        413: PROBLEM, 503: PROBLEM})
    async def submit_job(submission: JobSubmission, response: Response, context: Context) -> JobView:
        """Submit a job; answers once it is visible (read-your-writes), or 202 past the wait bound."""
        result = await counted_submit(context, context.commands.submit(submission.to_spec(),
                                                                         submission.upstreams_may_come_later))
        return answer_with_job(result, response)

    @router.get("", response_model=JobPage)
    async def list_jobs(context: Context, caller: Caller, status: Annotated[list[Status] | None, Query()] = None,
                        queue: TextFilter = None, name: TextFilter = None,
                        priority: Annotated[int | None, Query(ge=1, le=10)] = None,
                        parent_job_id: TextFilter = None, label: LabelFilter = None,
                        submitted_since: SubmittedBound = None, submitted_until: SubmittedBound = None,
                        limit: Limit = 50, cursor: Cursor = None) -> JobPage:
        """Jobs, the last submitted first; pass ``next_cursor`` back as ``cursor`` for the next page.
        ``parent_job_id`` lists the runs of a recurring job; ``label=k=v`` (repeatable) the jobs with those labels;
        ``submitted_since`` (included) and ``submitted_until`` (excluded) bound the submission time."""
        statuses = [s.value for s in status] if status else None
        filters = Filter({"namespace": caller.namespace, "status": statuses, "queue": queue, "name": name,
                          "priority": priority, "parent_job_id": parent_job_id, "labels": Contains(label_pairs(label)),
                          "submitted_at": Between(submitted_since, submitted_until)})
        rows = await context.store.jobs_by_submission(filters, limit, decode_pair_cursor(cursor))
        items, following = next_cursor(rows, limit, submission_key)
        return JobPage(items=[JobView.model_validate(r) for r in items], next_cursor=following)

    @router.get("/{job_id}", response_model=JobView, responses={404: PROBLEM})
    async def get_job(job_id: JobId, context: Context, caps: Caps, as_of: Annotated[AwareDatetime | None, Query(
            description="the job as it was then: its events up to that time, folded by evolve")] = None) -> JobView:
        if as_of is not None:
            return await _job_as_of(context, job_id, as_of)
        job = await _known_job(context, job_id)
        return JobView.model_validate({**job, "waiting_reason": await waiting_reason(context.store, job, caps)})

    @router.post("/{job_id}/cancel", response_model=JobView, responses={
        202: {"model": JobView, "description": "cancel sent, not yet visible in the read model"},
        404: PROBLEM, 409: PROBLEM, 413: PROBLEM, 503: PROBLEM})
    async def cancel_job(job_id: JobId, response: Response, context: Context,
                         body: Annotated[CancelRequest | None, Body()] = None) -> JobView:
        """Cancel a job that has not finished; answers once the cancellation is visible."""
        reason = body.reason if body is not None else CancelRequest().reason
        try:
            result = await context.commands.cancel(job_id, reason)
        except ApiProblem as problem:
            context.metrics.cancels.labels(problem.slug, acting_namespace()).inc()
            raise
        context.metrics.cancels.labels(result.reply.value, acting_namespace()).inc()
        return answer_with_job(result, response)

    @router.post("/{job_id}/retry", response_model=JobView, responses={
        202: {"model": JobView, "description": "sent, not yet visible in the read model"},
        404: PROBLEM, 409: PROBLEM, 503: PROBLEM})
    async def retry_job(job_id: JobId, response: Response, context: Context) -> JobView:
        """Run a failed job again, as a new attempt."""
        return answer_with_job(await context.commands.rerun(job_id, RetryJob), response)

    @router.patch("/{job_id}", response_model=JobView, responses={
        202: {"model": JobView, "description": "sent, the decision is not visible yet"},
        404: PROBLEM, 409: PROBLEM, 413: PROBLEM, 503: PROBLEM})
    async def patch_job(job_id: JobId, patch: JobPatchIn, response: Response, context: Context) -> JobView:
        """Change a job before it runs (priority, queue, env, timeout_s, retry, schedule); a job that
        runs or has finished is refused with 409 and the reason."""
        problems = patch.problems()
        if problems:
            raise ApiProblem(422, "validation", "the patch is not valid; see errors",
                             errors=[field_error(field, detail) for field, detail in problems])
        return answer_with_job(await context.commands.update(job_id, patch.to_patch()), response)

    @router.post("/{job_id}/pause", response_model=JobView, responses={
        202: {"model": JobView, "description": "sent, the decision is not visible yet"},
        404: PROBLEM, 409: PROBLEM, 503: PROBLEM})
    async def pause_job(job_id: JobId, response: Response, context: Context) -> JobView:
        """Stop a job from running until resumed; 409 with the reason if it cannot be paused."""
        return answer_with_job(await context.commands.pause(job_id), response)

    @router.post("/{job_id}/resume", response_model=JobView, responses={
        202: {"model": JobView, "description": "sent, the decision is not visible yet"},
        404: PROBLEM, 409: PROBLEM, 503: PROBLEM})
    async def resume_job(job_id: JobId, response: Response, context: Context) -> JobView:
        """Let a paused job run again; 409 with the reason if it is not paused."""
        return answer_with_job(await context.commands.resume(job_id), response)

    @router.post("/{job_id}/clone", status_code=201, response_model=JobView, responses={
        202: {"model": JobView, "description": "accepted, not yet visible in the read model"},
        404: PROBLEM, 409: PROBLEM, 413: PROBLEM, 503: PROBLEM})
    async def clone_job(job_id: JobId, response: Response, context: Context,
                        overrides: Annotated[CloneRequest | None, Body()] = None) -> JobView:
        """Submit a new job with this one's spec and the given changes; answers like a submit."""
        changes = overrides or CloneRequest()
        return answer_with_job(await context.commands.clone(job_id, changes.apply), response)

    @router.get("/{job_id}/executions", response_model=ExecutionList, responses={404: PROBLEM})
    async def job_executions(job_id: JobId, context: Context) -> ExecutionList:
        """Every execution attempt of a job, in attempt order."""
        rows = await context.store.executions_of(job_id)
        if not rows:
            await _known_job(context, job_id)
        return ExecutionList.model_validate({"items": rows})

    @router.get("/{job_id}/events", response_model=EventList, responses={404: PROBLEM})
    async def job_events(job_id: JobId, context: Context, after_seq: Annotated[int, Query(ge=0, le=2**62)] = 0,
                         limit: Annotated[int, Query(ge=1, le=10_000)] = 1000) -> EventList:
        """The job's audit trail in seq order (including rejected commands)."""
        rows = await context.store.job_events(job_id, after_seq, limit)
        if not rows and after_seq == 0:
            await _known_job(context, job_id)
        return EventList.model_validate({"items": rows})

    return router

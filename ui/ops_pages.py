"""The dashboard's operations pages: schedules (pause, resume), workers (drain) and dead letters
(inspect, redrive). Actions are form posts answered with a redirect back and a notice."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from jobstream.api.auth import Caller
from jobstream.api.context import Context, Cursor, JobId, WorkerId
from jobstream.api.models import spec_from_json
from jobstream.api.paging import decode_cursor, decode_pair_cursor, next_cursor
from jobstream.api.problems import ApiProblem
from jobstream.api.routes_schedules import SchedulePreview, fire_views, preview, schedule_from_query
from jobstream.api.routes_workers import request_drain
from jobstream.core.lifecycle import TERMINAL
from jobstream.schemas import RedriveJob
from jobstream.schemas.events import SkipReason
from jobstream.ui.filters import Filters
from jobstream.ui.links import Notice, back_with, bulk_url, dead_letters_url, schedules_url
from jobstream.ui.queries import DashboardQueries
from jobstream.ui.render import page

PAGE_SIZE = 50
Param = Annotated[str | None, Query(max_length=200)]


# Why a due time was skipped (``SkipReason``), in an operator's words.
SKIP_REASONS = {
    SkipReason.MISFIRE: "missed: it was due while nothing could fire it, and its misfire policy skips late fires",
    SkipReason.OVERLAP: "a previous run was still going, and its concurrency policy forbids overlapping runs",
    SkipReason.PAUSED: "the schedule was paused when it was due",
    SkipReason.DEADLINE: "it could not start before its starting deadline",
}


def skip_reason(reason: str | None) -> str:
    """A ``ScheduleSkipped`` reason explained (an unknown one as it is)."""
    known = {str(k): v for k, v in SKIP_REASONS.items()}
    return known.get(str(reason), str(reason or "no reason given"))


def schedule_summary(schedule: dict[str, Any]) -> str:
    """A schedule in one line: ``cron 0 3 * * * (Europe/Paris)``, ``every 60 s``, ``at ...``."""
    zone = schedule.get("timezone") or "UTC"
    if schedule.get("cron"):
        return f"cron {schedule['cron']} ({zone})"
    if schedule.get("every_s"):
        return f"every {float(schedule['every_s']):g} s"
    if schedule.get("at"):
        return f"once at {schedule['at']}"
    return "–"


def upcoming_fires(job: dict[str, Any], now: datetime) -> SchedulePreview | None:
    """A recurring job's next 10 fires, counted as the state processor counts them (from its
    submission); None for a job without a schedule, or one that is over."""
    spec = job.get("spec") or {}
    if not isinstance(spec.get("schedule"), dict) or job.get("status") in TERMINAL:
        return None
    try:
        schedule = spec_from_json(spec).schedule
    except ValueError:
        return None
    if schedule is None:
        return None
    return fire_views(schedule, max(now, job.get("next_run_at") or now) - timedelta(microseconds=1),
                      job.get("submitted_at") or now, 10)


def _preview(trial: dict[str, str]) -> tuple[SchedulePreview | None, str | None]:
    try:
        return preview(schedule_from_query(trial), datetime.now(UTC), 10), None
    except ApiProblem as problem:
        return None, "; ".join(f"{e['field']}: {e['detail']}" for e in problem.errors or []) or problem.detail


def add_ops_pages(router: APIRouter) -> None:
    @router.get("/schedules", response_class=HTMLResponse)
    async def schedules(request: Request, context: Context, caller: Caller, notice: Notice = None,
                        cron: Param = None, every: Param = None, timezone: Param = None,
                        cursor: Cursor = None) -> HTMLResponse:
        """The recurring jobs by name, a page at a time, and a preview of a schedule's next fires (``cron``
        or ``every``)."""
        rows = await DashboardQueries(context.store, caller.namespace).schedules(PAGE_SIZE, decode_pair_cursor(cursor))
        items, following = next_cursor(rows, PAGE_SIZE, lambda row: json.dumps([row["name"], row["job_id"]]))
        trial = {"cron": cron or "", "every": every or "", "timezone": timezone or "UTC"}
        fires, problem = _preview(trial) if cron or every else (None, None)
        return page(request, "schedules.html", schedules=items, notice=notice, summary=schedule_summary,
                    trial=trial, fires=fires, problem=problem, self_url=schedules_url(cursor),
                    next_url=schedules_url(following) if following else None,
                    first_url=schedules_url() if cursor else None)

    @router.get("/workers", response_class=HTMLResponse)
    async def workers(request: Request, context: Context, caller: Caller, notice: Notice = None) -> HTMLResponse:
        rows = await DashboardQueries(context.store, caller.namespace).workers()
        return page(request, "workers.html", workers=rows, notice=notice, now=datetime.now(UTC))

    @router.post("/workers/{worker_id}/drain")
    async def drain(worker_id: WorkerId, context: Context, caller: Caller) -> RedirectResponse:
        try:
            await request_drain(context, worker_id, "drained from the dashboard", caller.actor)
        except ApiProblem as problem:
            return back_with("/ui/workers", f"drain refused: {problem.detail}")
        return back_with("/ui/workers", f"drain sent to {worker_id}")

    @router.get("/dead-letters", response_class=HTMLResponse)
    async def dead_letters(request: Request, context: Context, caller: Caller, filters: Filters,
                           notice: Notice = None, cursor: Cursor = None) -> HTMLResponse:
        rows = await context.store.dead_letters(caller.namespace, 50, decode_cursor(cursor), filters.filter())
        items, following = next_cursor(rows, 50, "job_id")
        return page(request, "dead_letters.html", jobs=items, notice=notice, filters=filters,
                    self_url=dead_letters_url(filters, cursor), redrive_url=bulk_url("redrive", filters),
                    next_url=dead_letters_url(filters, following) if following else None)

    @router.post("/dead-letters/{job_id}/redrive")
    async def redrive(job_id: JobId, context: Context,
                      back: Annotated[str, Form(max_length=2000, pattern=r"^/ui(/[^/].*)?$")] = "/ui/dead-letters",
                      ) -> RedirectResponse:
        try:
            await context.commands.rerun(job_id, RedriveJob)
        except ApiProblem as problem:
            return back_with(back, f"redrive refused: {problem.detail}")
        return back_with(back, f"redrive sent for {job_id}")

"""The dashboard's operations pages: schedules (pause, resume), workers (drain) and dead letters
(inspect, redrive). Actions are form posts answered with a redirect back and a notice."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from jobstream.api.context import Context, Cursor, JobId, WorkerId
from jobstream.api.paging import decode_cursor, next_cursor
from jobstream.api.problems import ApiProblem
from jobstream.api.routes_workers import request_drain
from jobstream.schemas import RedriveJob
from jobstream.ui.links import back_with
from jobstream.ui.queries import DashboardQueries
from jobstream.ui.render import page

Notice = Annotated[str | None, Query(max_length=500)]


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


def add_ops_pages(router: APIRouter) -> None:
    @router.get("/schedules", response_class=HTMLResponse)
    async def schedules(request: Request, context: Context, notice: Notice = None) -> HTMLResponse:
        rows = await DashboardQueries(context.store).schedules()
        return page(request, "schedules.html", schedules=rows, notice=notice, summary=schedule_summary)

    @router.get("/workers", response_class=HTMLResponse)
    async def workers(request: Request, context: Context, notice: Notice = None) -> HTMLResponse:
        rows = await DashboardQueries(context.store).workers()
        return page(request, "workers.html", workers=rows, notice=notice, now=datetime.now(UTC))

    @router.post("/workers/{worker_id}/drain")
    async def drain(worker_id: WorkerId, context: Context) -> RedirectResponse:
        try:
            await request_drain(context, worker_id, "drained from the dashboard")
        except ApiProblem as problem:
            return back_with("/ui/workers", f"drain refused: {problem.detail}")
        return back_with("/ui/workers", f"drain sent to {worker_id}")

    @router.get("/dead-letters", response_class=HTMLResponse)
    async def dead_letters(request: Request, context: Context, notice: Notice = None,
                           cursor: Cursor = None) -> HTMLResponse:
        rows = await context.store.dead_letters(50, decode_cursor(cursor))
        items, following = next_cursor(rows, 50, "job_id")
        return page(request, "dead_letters.html", jobs=items, notice=notice,
                    next_url=f"/ui/dead-letters?{urlencode({'cursor': following})}" if following else None)

    @router.post("/dead-letters/{job_id}/redrive")
    async def redrive(job_id: JobId, context: Context,
                      back: Annotated[str, Form(max_length=300, pattern=r"^/ui(/[^/].*)?$")] = "/ui/dead-letters",
                      ) -> RedirectResponse:
        try:
            await context.commands.rerun(job_id, RedriveJob)
        except ApiProblem as problem:
            return back_with(back, f"redrive refused: {problem.detail}")
        return back_with(back, f"redrive sent for {job_id}")

"""The dashboard's pages under ``/ui``: server-rendered HTML over the read model, actions as
plain form posts that answer with a redirect (so they work without JavaScript too).

Every page and stream hangs off the one router ``dashboard_router`` builds. Like every route they
pass ``authorize`` (api/auth.py) with the permission api/routes_access.py declares for them: pages
read the caller's namespace, each action asks what its /v1 twin asks, and the commands sent carry
the caller as their actor. A browser signs in on ``/ui/login`` (ui/session.py).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Form, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from markupsafe import Markup

from jobstream.api.auth import Caller
from jobstream.api.bulk import BULK_OPERATIONS
from jobstream.api.context import ApiContext, Caps, Context, Cursor, JobId, TextFilter
from jobstream.api.models import CloneRequest, JobPatchIn
from jobstream.api.paging import decode_pair_cursor, next_cursor
from jobstream.api.problems import ApiProblem
from jobstream.api.store import submission_key
from jobstream.api.time_travel import events_until, fold_history, state_view
from jobstream.api.waiting import waiting_reason
from jobstream.core.lifecycle import Status
from jobstream.schemas import RetryJob
from jobstream.ui.bulk_pages import add_bulk_pages
from jobstream.ui.chart_svg import minutes, throughput_svg
from jobstream.ui.consumer_lag import ConsumerLag
from jobstream.ui.dag_svg import Node, dag_svg
from jobstream.ui.filters import Filters
from jobstream.ui.links import Notice, back_with, bulk_url, jobs_url
from jobstream.ui.live import live_router
from jobstream.ui.ops_pages import add_ops_pages, skip_reason, upcoming_fires
from jobstream.ui.queries import DashboardQueries
from jobstream.ui.render import STATIC_DIR, page
from jobstream.ui.session import redirect_to_login, session_router

PAGE_SIZE = 50
ACTIONS = ("cancel", "retry", "pause", "resume")


def add_pages(router: APIRouter) -> None:
    """The pages, on the dashboard's router."""

    @router.get("", response_class=HTMLResponse)
    async def overview(request: Request, context: Context, caller: Caller) -> HTMLResponse:
        queries = DashboardQueries(context.store, caller.namespace)
        now = datetime.now(UTC)
        series = minutes(await queries.finished_per_minute(now - timedelta(minutes=60)), now)
        lag: ConsumerLag = request.app.state.consumer_lag
        return page(request, "overview.html", stats=await queries.overview(), statuses=[s.value for s in Status],
                    chart=throughput_svg(series), lags=await lag.lags())

    @router.get("/jobs", response_class=HTMLResponse)
    async def jobs(request: Request, context: Context, caller: Caller, filters: Filters, id: TextFilter = None,
                   cursor: Cursor = None, notice: Notice = None) -> Response:
        if id and await _visible(context, caller, id.strip()):  # a search by id goes to the job
            return RedirectResponse(f"/ui/jobs/{quote(id.strip(), safe='')}", status_code=303)
        if id:
            notice = f"no job has the id {id.strip()!r}; showing the list"
        queries = DashboardQueries(context.store, caller.namespace)
        rows = await queries.jobs(filters, PAGE_SIZE, decode_pair_cursor(cursor))
        items, following = next_cursor(rows, PAGE_SIZE, submission_key)
        bulk = {name: bulk_url(name, filters) for name, op in BULK_OPERATIONS.items() if not op.dead_lettered}
        return page(request, "jobs.html", jobs=items, filters=filters, notice=notice,
                    statuses=[s.value for s in Status], bulk=bulk, self_url=jobs_url(filters, cursor),
                    next_url=jobs_url(filters, following) if following else None,
                    first_url=jobs_url(filters) if cursor else None)

    @router.get("/jobs/{job_id}", response_class=HTMLResponse)
    async def job(request: Request, job_id: JobId, context: Context, caller: Caller, caps: Caps,
                  notice: Notice = None, execution: TextFilter = None) -> HTMLResponse:
        row = await context.store.job(job_id)
        if row is None:
            return page(request, "missing.html", what=f"job {job_id}", back="/ui/jobs", notice=notice,
                        status_code=404)
        executions = await context.store.executions_of(job_id)
        shown = execution or row.get("execution_id") or (executions[-1]["execution_id"] if executions else None)
        return page(request, "job.html", job=row, notice=notice, executions=executions, log_execution=shown,
                     events=await context.store.job_events(job_id, 0, 1000),
                    waiting_reason=await waiting_reason(context.store, row, caps), actions=ACTIONS,
                    upcoming=upcoming_fires(row, datetime.now(UTC)), skip_reason=skip_reason,
                    history=await DashboardQueries(context.store, caller.namespace).schedule_history(job_id)
                    if row.get("runs") or (row.get("spec") or {}).get("schedule") else [],
                    graph=await dependency_graph(context, row, caller.namespace))

    @router.get("/jobs/{job_id}/as-of", response_class=HTMLResponse)
    async def as_of(request: Request, job_id: JobId, context: Context,
                    seq: Annotated[int, Query(ge=1, le=2**62)]) -> HTMLResponse:
        """The job as it was right after its event ``seq``: its events up to it, folded by ``evolve``."""
        rows = await events_until(context.store, job_id, seq=seq)
        state = fold_history(job_id, rows)
        return page(request, "as_of.html", job=state_view(state) if state.exists else None,
                    event=rows[-1] if rows else None)

    @router.post("/jobs/{job_id}/priority")
    async def set_priority(job_id: JobId, context: Context,
                           priority: Annotated[int, Form(ge=1, le=10)]) -> RedirectResponse:
        """Change the priority of a job that has not started."""
        try:
            await context.commands.update(job_id, JobPatchIn(priority=priority).to_patch())
            notice = f"priority {priority} sent"
        except ApiProblem as problem:
            notice = f"priority refused: {problem.detail}"
        return back_with(f"/ui/jobs/{quote(job_id, safe='')}", notice)

    @router.post("/jobs/{job_id}/clone")
    async def clone(job_id: JobId, context: Context) -> RedirectResponse:
        """Submit a copy of the job, then show the copy."""
        try:
            result = await context.commands.clone(job_id, CloneRequest().apply)
        except ApiProblem as problem:
            return back_with(f"/ui/jobs/{quote(job_id, safe='')}", f"clone refused: {problem.detail}")
        copy = str(result.job["job_id"])
        return back_with(f"/ui/jobs/{quote(copy, safe='')}", f"cloned from {job_id}")

    @router.post("/jobs/{job_id}/{action}")
    async def act(job_id: JobId, action: str, context: Context,
                  reason: Annotated[str, Form(max_length=500)] = "cancelled from the dashboard",
                  back: Annotated[str | None, Form(max_length=300, pattern=r"^/ui(/[^/].*)?$")] = None,
                  ) -> RedirectResponse:
        """Run the action, then back to the job's page (or ``back``, a dashboard page) saying how it went."""
        notice = await _run_action(context, job_id, action, reason)
        return back_with(back or f"/ui/jobs/{quote(job_id, safe='')}", notice)


async def _visible(context: ApiContext, caller: Caller, job_id: str) -> bool:
    """Whether the job exists in the caller's namespace (another's is not revealed)."""
    row = await context.store.job(job_id)
    return row is not None and row.get("namespace") in (None, caller.namespace)


async def dependency_graph(context: ApiContext, job: dict[str, Any], namespace: str) -> Markup | None:
    """The job with its upstreams and downstreams as SVG; None for a job with neither."""
    upstreams, downstreams = await DashboardQueries(context.store, namespace).neighbours(job)
    if not upstreams and not downstreams:
        return None
    return dag_svg(_node(job), [_node(r) for r in upstreams], [_node(r) for r in downstreams])


def _node(row: dict[str, Any]) -> Node:
    return Node(str(row["job_id"]), row.get("name"), row.get("status"))


async def _run_action(context: ApiContext, job_id: str, action: str, reason: str) -> str:
    """What the operator is told: the action was sent, or why it was refused."""
    commands = context.commands
    try:
        if action == "cancel":
            await commands.cancel(job_id, reason)
        elif action == "retry":
            await commands.rerun(job_id, RetryJob)
        elif action == "pause":
            await commands.pause(job_id)
        elif action == "resume":
            await commands.resume(job_id)
        else:
            return f"{action} is not an action; use one of {', '.join(ACTIONS)}"
    except ApiProblem as problem:
        return f"{action} refused: {problem.detail}"
    return f"{action} sent"


def dashboard_router() -> APIRouter:
    """Every page and live stream of the dashboard, under ``/ui``."""
    router = APIRouter(prefix="/ui", include_in_schema=False)
    add_pages(router)
    add_ops_pages(router)
    add_bulk_pages(router)
    router.include_router(live_router())
    return router


def install_dashboard(app: FastAPI, consumer_lag: ConsumerLag) -> None:
    """The dashboard's routes, its login, its static files (vendored htmx), and ``/`` sending
    browsers to it; the overview shows ``consumer_lag``."""
    app.state.consumer_lag = consumer_lag
    app.include_router(session_router())
    app.include_router(dashboard_router())
    redirect_to_login(app)
    app.mount("/ui/static", StaticFiles(directory=STATIC_DIR), name="ui-static")

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse("/ui", status_code=307)

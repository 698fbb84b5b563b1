"""``/v1/templates``: create (a new version each time), list, read, and run with parameters."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from jobstream.api.context import Context, Cursor, Limit
from jobstream.api.paging import decode_cursor, next_cursor
from jobstream.api.routes_jobs import answer_with_job, counted_submit
from jobstream.api.store import Row
from jobstream.api.template_models import (
    TEMPLATE_NAME,
    TemplateIn,
    TemplatePage,
    TemplateRunIn,
    TemplateSummary,
    TemplateVersionView,
)
from jobstream.api.templates import TemplateCommands, version_of
from jobstream.api.views import PROBLEM, JobView

Name = Annotated[str, Path(pattern=TEMPLATE_NAME)]
Version = Annotated[int | None, Query(ge=1, le=2**31 - 1, description="a version; the latest by default")]


def _view(row: Row, version: int | None = None) -> TemplateVersionView:
    return TemplateVersionView.model_validate({"name": row["name"], "latest": row["latest"],
                                               **version_of(row, version)})


def _summary(row: Row) -> TemplateSummary:
    return TemplateSummary.model_validate({**row, "description": row["versions"][-1]["description"]})


def templates_router() -> APIRouter:
    router = APIRouter(prefix="/v1/templates", tags=["templates"])

    @router.post("", status_code=201, response_model=TemplateVersionView, responses={
        202: {"model": TemplateVersionView, "description": "published, not yet visible in the read model"},
        409: PROBLEM, 422: PROBLEM, 503: PROBLEM})
    async def create_template(body: TemplateIn, response: Response, context: Context) -> TemplateVersionView:
        """A new template, or the next version of the one with this name (versions are never changed)."""
        visible, row = await TemplateCommands(context.commands).create(body)
        response.status_code = 201 if visible else 202
        response.headers["Location"] = f"/v1/templates/{body.name}?version={row['latest']}"
        return _view(row)

    @router.get("", response_model=TemplatePage, responses={422: PROBLEM})
    async def list_templates(context: Context, limit: Limit = 50, cursor: Cursor = None) -> TemplatePage:
        """Templates by name, each with its latest version."""
        rows = await context.store.templates(limit, decode_cursor(cursor))
        page, following = next_cursor(rows, limit, "name")
        return TemplatePage(items=[_summary(r) for r in page], next_cursor=following)

    @router.get("/{name}", response_model=TemplateVersionView, responses={404: PROBLEM})
    async def get_template(name: Name, context: Context, version: Version = None) -> TemplateVersionView:
        """One version of a template (the latest by default)."""
        return _view(await TemplateCommands(context.commands).known(name), version)

    @router.post("/{name}:run", status_code=201, response_model=JobView, responses={
        200: {"model": JobView, "description": "the job already existed (same idempotency_key)"},
        202: {"model": JobView, "description": "accepted, not yet visible in the read model"},
        404: PROBLEM, 409: PROBLEM, 422: PROBLEM, 503: PROBLEM})
    async def run_template(name: Name, response: Response, context: Context,
                           body: TemplateRunIn | None = None) -> JobView:
        """Submit the template's job with these parameters, answered as ``POST /v1/jobs`` answers; the
        job's label ``jobstream.template`` names the version used (``name@version``)."""
        result = await counted_submit(context, TemplateCommands(context.commands).run(name, body or TemplateRunIn()))
        return answer_with_job(result, response)

    return router

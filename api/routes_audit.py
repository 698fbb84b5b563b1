"""``/v1/audit``: who did what through the API, refused attempts included (admins only)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from jobstream.api.auth import Caller
from jobstream.api.context import Context, Cursor, Limit, TextFilter
from jobstream.api.paging import decode_pair_cursor, next_cursor
from jobstream.api.problems import ApiProblem, field_error
from jobstream.api.views import columns_of
from jobstream.projections.rows import AuditRow


class AuditView(columns_of(AuditRow)):  # type: ignore[misc]
    pass


class AuditPage(BaseModel):
    items: list[AuditView]
    next_cursor: str | None = None


def _key(row: dict[str, Any]) -> str:
    return json.dumps([row["at"].isoformat(), row["entry_id"]])


def audit_router() -> APIRouter:
    router = APIRouter(prefix="/v1/audit", tags=["audit"])

    @router.get("", response_model=AuditPage)
    async def list_audit(context: Context, caller: Caller, actor: TextFilter = None, action: TextFilter = None,
                         since: Annotated[datetime | None, Query(description="entries at or after this time")] = None,
                         limit: Limit = 100, cursor: Cursor = None) -> AuditPage:
        """Changes made and requests refused (401, 403, 429) in the caller's namespace (and refusals
        before any namespace was known), newest first; filter by ``actor`` (key:<id>, jwt:<subject>),
        ``action`` (the operation, e.g. cancel_job) and ``since``."""
        after = decode_pair_cursor(cursor)
        if after is not None:
            try:
                datetime.fromisoformat(after[0])
            except ValueError:
                raise ApiProblem(422, "validation", "cursor is not one of ours",
                                 errors=[field_error("cursor", "is not a cursor this API gave")]) from None
        rows = await context.store.audit(caller.namespace, actor, action, since, limit, after)
        items, following = next_cursor(rows, limit, _key)
        return AuditPage(items=[AuditView.model_validate(r) for r in items], next_cursor=following)

    return router

"""URLs of dashboard pages: each built in one place."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import urlencode

from fastapi import Query
from fastapi.responses import RedirectResponse

from jobstream.ui.queries import JobFilters


def url_time(value: datetime | None) -> str | None:
    """A time as the filters carry it in a URL: UTC, to the second, ``Z``-suffixed."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def _with_filters(path: str, filters: JobFilters, cursor: str | None = None) -> str:
    query = [("status", filters.status), ("queue", filters.queue), ("name", filters.name_prefix),
             ("priority", str(filters.priority) if filters.priority else None),
             *(("label", f"{k}={v}") for k, v in filters.label.items()),
             ("since", url_time(filters.since)), ("until", url_time(filters.until)), ("cursor", cursor)]
    kept = [(k, v) for k, v in query if v]
    return path + (f"?{urlencode(kept)}" if kept else "")


def jobs_url(filters: JobFilters, cursor: str | None = None) -> str:
    """The jobs list with these filters (and page)."""
    return _with_filters("/ui/jobs", filters, cursor)


def dead_letters_url(filters: JobFilters, cursor: str | None = None) -> str:
    """The dead letters with these filters (and page)."""
    return _with_filters("/ui/dead-letters", filters, cursor)


def schedules_url(cursor: str | None = None) -> str:
    """The schedules list (at a page)."""
    return "/ui/schedules" + (f"?{urlencode([('cursor', cursor)])}" if cursor else "")


def bulk_url(operation: str, filters: JobFilters) -> str | None:
    """The dry run of ``operation`` on what these filters match; None without a filter (not everything at once)."""
    if filters == JobFilters():
        return None
    return _with_filters(f"/ui/bulk-{operation}", filters)


# The notice a page shows after a form post redirected to it (``back_with``), from its URL.
Notice = Annotated[str | None, Query(max_length=500)]


def back_with(path: str, notice: str) -> RedirectResponse:
    """A redirect (after a form post) to a dashboard page that shows ``notice``."""
    return RedirectResponse(f"{path}{'&' if '?' in path else '?'}{urlencode({'notice': notice})}", status_code=303)

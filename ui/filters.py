"""The jobs list's filters as a page's URL carries them, read in one place (a FastAPI dependency)
by every page that selects jobs by filter: the jobs list, the dead letters and the bulk actions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Query

from jobstream.api.context import TextFilter
from jobstream.api.problems import ApiProblem, field_error
from jobstream.api.query import label_pairs
from jobstream.core.lifecycle import Status
from jobstream.ui.queries import JobFilters


def _invalid(name: str, detail: str) -> ApiProblem:
    return ApiProblem(422, "validation", "the request is not valid; see errors", errors=[field_error(name, detail)])


def known_status(status: str | None) -> str | None:
    """A status filter as the form sends it: empty for any; a 422 naming ``status`` if it is no status."""
    if not status:
        return None
    if status not in {s.value for s in Status}:
        raise _invalid("status", f"{status!r} is not a job status")
    return status


def known_priority(priority: str | None) -> int | None:
    """A priority filter as the form sends it: empty for any; a 422 naming ``priority`` unless 1 to 10."""
    if not priority:
        return None
    if not priority.isdigit() or not 1 <= int(priority) <= 10:
        raise _invalid("priority", f"{priority!r} is not a priority from 1 to 10")
    return int(priority)


def known_time(name: str, value: str | None) -> datetime | None:
    """A time filter as the form sends it (``datetime-local``: no zone, taken as UTC) or as a URL
    keeps it (with its zone); empty for none; a 422 naming the field otherwise."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise _invalid(name, f"{value!r} is not a time (2026-01-31T14:00)") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def job_filters(status: TextFilter = None, queue: TextFilter = None, name: TextFilter = None,
                label: Annotated[list[str] | None, Query(max_length=20)] = None,
                priority: Annotated[str | None, Query(max_length=2)] = None,
                since: TextFilter = None, until: TextFilter = None) -> JobFilters:
    """The filters of the URL; an empty field (as a form sends it) means any."""
    return JobFilters(status=known_status(status), queue=queue or None, priority=known_priority(priority),
                      name_prefix=name or None, label=label_pairs([x for x in label or [] if x]),
                      since=known_time("since", since), until=known_time("until", until))


Filters = Annotated[JobFilters, Depends(job_filters)]

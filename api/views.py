"""Response bodies: rows of the read model as JSON, documented in the OpenAPI schema.

Each view's fields are the columns of its row in ``projections/rows.py`` (a log chunk's, of the
``LogChunk`` record), with their types. Columns the projector adds later pass through
(``extra="allow"``); datetimes are UTC, ISO-8601.
"""

from __future__ import annotations

from dataclasses import MISSING, fields
from typing import Any, get_type_hints

from pydantic import BaseModel, ConfigDict, create_model

from jobstream.api.store import LOG_CHUNK_COLUMNS
from jobstream.projections.rows import EventRow, ExecutionRow, JobRow, WorkerRow
from jobstream.schemas import CommandResult, LogChunk


class _Row(BaseModel):
    model_config = ConfigDict(extra="allow")


def columns_of(source: type, *, partial: bool = False, only: tuple[str, ...] = ()) -> type[BaseModel]:
    """A model with a field per column of ``source`` (a row of ``projections/rows.py``, or a record):
    its type and default, so a column is declared once. ``partial``: every field but the key (the
    first) may be absent, as in a 202 answered before the job's row exists; ``only``: these columns."""
    hints = get_type_hints(source)
    names = only or (source._fields if hasattr(source, "_fields") else tuple(f.name for f in fields(source)))
    definitions: dict[str, Any] = {}
    for i, name in enumerate(names):
        if partial and i > 0:
            definitions[name] = (hints[name] | None, None)
        else:
            definitions[name] = (hints[name], _default(source, name))
    return create_model(f"{source.__name__}Columns", __base__=_Row, **definitions)


def _default(source: type, name: str) -> Any:
    if hasattr(source, "_field_defaults"):
        return source._field_defaults.get(name, ...)
    default = next(f.default for f in fields(source) if f.name == name)
    return ... if default is MISSING else default


# Built from the rows at import: mypy cannot see such a base, hence the ignores.
class CommandView(columns_of(CommandResult)):  # type: ignore[misc]
    """What became of a command: accepted (the events it caused), rejected (why), or poisoned (why)."""


class JobView(columns_of(JobRow, partial=True)):  # type: ignore[misc]
    waiting_reason: str | None = None  # on GET of a queued job no live worker can take, or over its cap: why
    command_id: str | None = None  # on a 202: the command sent, which GET /v1/commands/{id} follows


class ExecutionView(columns_of(ExecutionRow)):  # type: ignore[misc]
    pass


class WorkerView(columns_of(WorkerRow)):  # type: ignore[misc]
    pass


class EventView(columns_of(EventRow)):  # type: ignore[misc]
    pass


class LogChunkView(columns_of(LogChunk, only=LOG_CHUNK_COLUMNS)):  # type: ignore[misc]
    pass


class JobPage(BaseModel):
    items: list[JobView]
    next_cursor: str | None = None


class ExecutionPage(BaseModel):
    items: list[ExecutionView]
    next_cursor: str | None = None


class WorkerPage(BaseModel):
    items: list[WorkerView]
    next_cursor: str | None = None


class EventList(BaseModel):
    items: list[EventView]


class ExecutionList(BaseModel):
    items: list[ExecutionView]


class Problem(BaseModel):
    """RFC 9457 problem details (``application/problem+json``)."""

    model_config = ConfigDict(extra="allow")
    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[dict[str, str]] | None = None


# For the OpenAPI ``responses=`` of routes: errors are documented as problem+json.
PROBLEM: dict[str, Any] = {"model": Problem, "content": {"application/problem+json": {}}}
# What the app-wide handlers answer on any operation: an unknown query parameter or malformed JSON
# (400), a request that fails validation (422, replacing FastAPI's own application/json shape).
APP_WIDE_PROBLEMS: dict[int | str, dict[str, Any]] = {400: PROBLEM, 422: PROBLEM}

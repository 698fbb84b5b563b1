"""Server-Sent Events that keep the dashboard live.

``/ui/live`` tells a page that jobs it shows changed (the read model's NOTIFY, through the API's one
LISTEN connection); the page then fetches itself again with htmx. ``/ui/executions/{id}/logs``
streams an execution's output like ``tail -f`` and ends with an ``end`` event after its last chunk.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterable
from typing import Annotated, Any

from fastapi import APIRouter, Header
from markupsafe import escape
from sse_starlette import EventSourceResponse

from jobstream.api.context import ApiContext, Context, ExecutionId, TextFilter
from jobstream.projections.rows import FINISHED_EXECUTION, wrote_no_log

COALESCE_S = 0.2  # a burst of changes makes one redraw, at most this often
IDLE_S = 30.0
LOG_POLL_S = 0.25  # the logs projector does not NOTIFY: its table is polled while a log is followed
LOG_QUIET_END_S = 3.0  # a finished execution whose eof never comes (its worker died) ends after this


def concerns(job_id: str | None, changed: set[str], everything: bool) -> bool:
    """Whether a page showing ``job_id`` (None: a list of all jobs) must redraw for these changes."""
    return everything or job_id is None or job_id in changed


def log_events(chunks: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """SSE events of log chunks: escaped HTML to append (stderr marked), their seq as the event id so
    a reconnecting browser resumes after it (``Last-Event-ID``)."""
    events = []
    for chunk in chunks:
        text = str(escape(chunk.get("data") or ""))
        if chunk.get("stream") == "stderr" and text:
            text = f'<span class="stderr">{text}</span>'
        if chunk.get("dropped_bytes"):
            text += f'<span class="muted">[{int(chunk["dropped_bytes"])} bytes dropped]</span>\n'
        if text:
            events.append({"event": "log", "id": str(chunk["seq"]), "data": text})
    return events


async def _changes(context: ApiContext, job_id: str | None) -> AsyncIterator[dict[str, Any]]:
    async with context.notifier.watch() as changes:
        yield {"event": "change", "data": "connected"}  # what changed before it connected is shown too
        while True:
            got = await changes.next(IDLE_S)
            if got is not None and concerns(job_id, *got):
                yield {"event": "change", "data": job_id or "*"}
                await asyncio.sleep(COALESCE_S)


async def _log_follow(context: ApiContext, execution_id: str, after_seq: int) -> AsyncIterator[dict[str, Any]]:
    last_chunk_at = time.monotonic()
    while True:
        chunks = await context.store.log_chunks(execution_id, after_seq, 500)
        for event in log_events(chunks):
            yield event
        if chunks:
            after_seq, last_chunk_at = int(chunks[-1]["seq"]), time.monotonic()
        if any(chunk.get("eof") for chunk in chunks) or not chunks and await _ended(context, execution_id, after_seq,
                                                                                  last_chunk_at):
            yield {"event": "end", "data": "end of output"}
            return
        if len(chunks) < 500:
            await asyncio.sleep(LOG_POLL_S)


async def _ended(context: ApiContext, execution_id: str, after_seq: int, last_chunk_at: float) -> bool:
    if await context.store.has_eof(execution_id, after_seq):
        return True
    execution = await context.store.execution(execution_id)
    if wrote_no_log(execution):
        return True
    finished = execution is not None and execution["status"] in FINISHED_EXECUTION
    return finished and time.monotonic() - last_chunk_at > LOG_QUIET_END_S


def live_router() -> APIRouter:
    router = APIRouter()

    @router.get("/live")
    async def live(context: Context, job: TextFilter = None) -> EventSourceResponse:
        """``change`` events whenever a job (``job``: this one) changes in the read model."""
        return EventSourceResponse(_changes(context, job), ping=15)

    @router.get("/executions/{execution_id}/logs")
    async def follow_logs(execution_id: ExecutionId, context: Context,
                          last_event_id: Annotated[int, Header(ge=0)] = 0) -> EventSourceResponse:
        """The execution's output from the start (or after ``Last-Event-ID``), then as it comes."""
        return EventSourceResponse(_log_follow(context, execution_id, last_event_id), ping=15)

    return router

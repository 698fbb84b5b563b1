"""The dashboard's pure pieces: which changes redraw a page, log chunks as SSE events, the URL of a
filtered jobs list, and the notifier's watcher of every job."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any

import pytest

from jobstream.api.notifier import Changes, JobNotifier
from jobstream.outage import Gate, Outage
from jobstream.ui import live
from jobstream.ui.links import jobs_url
from jobstream.ui.live import concerns, log_events
from jobstream.ui.queries import JobFilters


def test_a_list_redraws_on_any_change_and_a_job_page_only_on_its_own() -> None:
    assert concerns(None, {"a"}, everything=False)
    assert concerns("a", {"a", "b"}, everything=False)
    assert not concerns("c", {"a", "b"}, everything=False)
    assert concerns("c", set(), everything=True)  # ids lost (a reconnect): every page redraws


def test_log_chunks_become_escaped_events_with_their_seq_as_id() -> None:
    events = log_events([{"seq": 1, "stream": "stdout", "data": "<b>1</b>\n"},
                         {"seq": 2, "stream": "stderr", "data": "oops\n"},
                         {"seq": 3, "stream": "stdout", "data": "", "eof": True},
                         {"seq": 4, "stream": "stdout", "data": "", "dropped_bytes": 10}])
    assert [e["id"] for e in events] == ["1", "2", "4"]  # an empty eof chunk appends nothing
    assert events[0]["data"] == "&lt;b&gt;1&lt;/b&gt;\n"
    assert events[1]["data"] == '<span class="stderr">oops\n</span>'
    assert "10 bytes dropped" in events[2]["data"]


class _NoChunks:
    """A read model with an execution that has no chunk and no eof."""

    def __init__(self, execution: dict[str, Any]) -> None:
        self.row = execution

    async def log_chunks(self, *_: object) -> list[dict[str, Any]]:
        return []

    async def has_eof(self, _: str, through_seq: int) -> bool:
        return False

    async def execution(self, _: str) -> dict[str, Any]:
        return self.row


def test_the_log_of_an_execution_that_wrote_nothing_ends_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(live, "LOG_QUIET_END_S", float("inf"))  # the quiet wait of a killed worker never ends
    context: Any = SimpleNamespace(store=_NoChunks({"status": "succeeded", "log_records": 0}))

    async def first_event() -> dict[str, Any]:
        return await asyncio.wait_for(anext(live._log_follow(context, "e-1", 0)), 10)

    assert asyncio.run(first_event()) == {"event": "end", "data": "end of output"}


def test_the_filters_live_in_the_url_and_empty_ones_are_left_out() -> None:
    assert jobs_url(JobFilters()) == "/ui/jobs"
    url = jobs_url(JobFilters(status="queued", queue="gpu", name_prefix="etl ", label={"team": "ml"}), "abc")
    assert url == "/ui/jobs?status=queued&queue=gpu&name=etl+&label=team%3Dml&cursor=abc"
    paris = timezone(timedelta(hours=1))
    ranged = jobs_url(JobFilters(since=datetime(2026, 3, 1, 10, 0, 5, 900, tzinfo=paris)))
    assert ranged == "/ui/jobs?since=2026-03-01T09%3A00%3A05Z"  # UTC, to the second


def test_a_watcher_sees_every_job_changed_since_it_last_looked() -> None:
    async def scenario() -> None:
        notifier = JobNotifier("postgresql://unused", "chan", Gate(Outage("db", logging.getLogger("test"))))
        async with notifier.watch() as changes:
            assert await changes.next(0.01) is None  # nothing changed
            notifier.dispatch("a")
            notifier.dispatch("b")
            assert await changes.next(1) == ({"a", "b"}, False)
            notifier.wake_all()  # a reconnect: what was missed is unknown
            assert await changes.next(1) == (set(), True)
        notifier.dispatch("c")  # after the watch ended: no one to tell, nothing kept
        assert not notifier._watchers

    asyncio.run(scenario())


def test_too_many_changed_ids_become_everything() -> None:
    changes = Changes()
    for i in range(Changes.MAX_IDS + 5):
        changes.add(str(i))
    assert len(changes.job_ids) == Changes.MAX_IDS and changes.everything

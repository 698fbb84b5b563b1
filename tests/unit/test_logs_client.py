"""`jobstream logs`: paging by cursor, and when a follower stops."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx

from jobstream.client import ApiClient
from jobstream.logs_client import PAGE, follow_done, read_logs
from jobstream.schemas import Assignment, JobSpec, ShellTask
from jobstream.worker.executors.output import Piece
from jobstream.worker.log_stream import chunk_record


def _api(pages: list[dict[str, Any]], asked: list[int]) -> ApiClient:
    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(int(request.url.params["after_seq"]))
        return httpx.Response(200, json=pages.pop(0))
    return ApiClient("http://api", transport=httpx.MockTransport(answer))


def _page(seqs: range, *, complete: bool = False, finished: bool = False, after: int = 0) -> dict[str, Any]:
    items = [{"seq": s, "stream": "stdout", "data": f"line {s}\n"} for s in seqs]
    return {"items": items, "next_after_seq": seqs[-1] if seqs else after, "complete": complete, "finished": finished}


def test_follow_stops_on_eof_or_after_a_quiet_grace_once_finished() -> None:
    assert follow_done({"complete": True}, 0, 5)
    assert not follow_done({"finished": True}, 1, 5)
    assert follow_done({"finished": True}, 5, 5)
    assert not follow_done({"finished": False}, 100, 5)


def test_read_logs_pages_through_and_follows_until_complete() -> None:
    asked: list[int] = []
    pages = [_page(range(1, PAGE + 1)), _page(range(PAGE + 1, PAGE + 3)), _page(range(0), after=PAGE + 2),
             _page(range(PAGE + 3, PAGE + 4), complete=True)]
    written: list[str] = []
    sleeps: list[float] = []
    last = read_logs(_api(pages, asked), "e1", follow=True, write=lambda s, d: written.append(d),
                     sleep=sleeps.append)
    assert asked == [0, PAGE, PAGE + 2, PAGE + 2] and last == PAGE + 3
    assert written == [f"line {n}\n" for n in range(1, PAGE + 4)] and len(sleeps) == 2


def test_without_follow_it_prints_what_is_there() -> None:
    asked: list[int] = []
    written: list[str] = []
    read_logs(_api([_page(range(1, 3))], asked), "e1", follow=False, write=lambda s, d: written.append(d))
    assert asked == [0] and written == ["line 1\n", "line 2\n"]


def test_chunks_carry_the_execution_and_their_seq() -> None:
    spec = JobSpec(name="n", task=ShellTask(argv=["true"]))
    at = datetime(2024, 1, 1, tzinfo=UTC)
    assignment = Assignment(job_id="j", execution_id="j.1", attempt=2, worker_id="w", spec=spec, assigned_at=at)
    record = chunk_record(assignment, "w", 7, Piece("stderr", "x", truncated=True), at)
    assert (record.execution_id, record.job_id, record.attempt, record.seq, record.stream, record.truncated) == (
        "j.1", "j", 2, 7, "stderr", True)

"""``jobstream top``: what one view shows, from the API's answers."""

from __future__ import annotations

import httpx

from jobstream.top import Snapshot, queue_rows
from tests.unit.test_api_client import run

WORKERS = [{"worker_id": "w1", "status": "active", "queues": ["default", "gpu"], "slots": 4, "free_slots": 1},
           {"worker_id": "w2", "status": "active", "queues": ["default"], "slots": 2, "free_slots": 2}]
ACTIVE = [{"job_id": "a", "queue": "default", "status": "running"},
          {"job_id": "b", "queue": "default", "status": "queued"},
          {"job_id": "c", "queue": "etl", "status": "queued"}]


def test_queues_count_their_jobs_workers_and_free_slots() -> None:
    rows = queue_rows(Snapshot(WORKERS, ACTIVE, [], "12:00:00Z"))
    assert rows == [
        {"queue": "default", "queued": 1, "running": 1, "workers": 2, "free_slots": 3, "slots": 6},
        {"queue": "etl", "queued": 1, "running": 0, "workers": 0, "free_slots": 0, "slots": 0},
        {"queue": "gpu", "queued": 0, "running": 0, "workers": 1, "free_slots": 1, "slots": 4},
    ]


def test_top_once_prints_the_queues_workers_and_recent_jobs() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        params = request.url.params
        if request.url.path == "/v1/workers":
            return httpx.Response(200, json={"items": WORKERS})
        if "status" in params:
            return httpx.Response(200, json={"items": [j for j in ACTIVE if j["status"] == params["status"]]})
        return httpx.Response(200, json={"items": [{"job_id": "recent-1", "name": "hello", "status": "completed",
                                                    "queue": "default"}]})

    result = run(handle, "top", "--once")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "2 live workers · 3/6 slots used" in out
    for shown in ("queues", "workers", "recent jobs", "etl", "w2", "recent-1", "completed"):
        assert shown in out, shown

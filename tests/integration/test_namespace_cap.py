"""A namespace's in-flight cap against the real broker, Postgres and processes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from jobstream.config import Settings
from jobstream.infra.topics import Topics
from jobstream.keys_admin import set_quota
from jobstream.schemas import DEFAULT_NAMESPACE
from tests.integration.harness import parse_time, poll, submit_job, wait_terminal

CAP = 2


@pytest.fixture
def capped(test_settings: Settings, topics_ready: Topics) -> None:
    """The default namespace capped before the stack starts (its dispatcher reads the cap first)."""
    set_quota(test_settings, DEFAULT_NAMESPACE, datetime.now(UTC), max_in_flight=CAP)


def most_at_once(jobs: list[dict[str, Any]]) -> int:
    """The most jobs running at one time, from their start and finish times."""
    moments = sorted([(parse_time(j["started_at"]), 1) for j in jobs]
                     + [(parse_time(j["finished_at"]), -1) for j in jobs])
    running = most = 0
    for _, step in moments:  # a finish sorts before a start at the same instant
        running += step
        most = max(most, running)
    return most


def test_five_sleeping_jobs_run_two_at_a_time_the_others_saying_why_they_wait(capped: None,
                                                                            stack: httpx.Client) -> None:
    # Given the default namespace capped to 2 in flight and a worker with 8 slots
    # When 5 jobs that sleep are submitted
    ids = [submit_job(stack, ["sleep", "2"], name=f"capped-{n}")["job_id"] for n in range(5)]

    # Then while 2 run, the others wait in queued saying the namespace is at its cap
    def waiting_at_cap() -> list[str]:
        reasons = [stack.get(f"/v1/jobs/{job_id}").json().get("waiting_reason") or "" for job_id in ids]
        return [r for r in reasons if "in-flight cap" in r]
    assert "namespace default is at its in-flight cap: 2 of 2" in poll(waiting_at_cap, 30, "a waiting reason")[0]
    # And all complete, never more than 2 at once
    done = wait_terminal(stack, ids, 90)
    assert {job["status"] for job in done.values()} == {"completed"}
    assert most_at_once(list(done.values())) == CAP

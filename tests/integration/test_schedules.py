"""Recurring schedules against the real broker, Postgres and processes: fires, overlap, pause."""

from __future__ import annotations

import time
from datetime import timedelta
from itertools import pairwise
from typing import Any

import httpx

from jobstream.infra.process import wait_until
from tests.integration.harness import ServiceProcess, parse_time, submit_job, wait_terminal


def _events(client: httpx.Client, job_id: str) -> list[dict[str, Any]]:
    return client.get(f"/v1/jobs/{job_id}/events", params={"limit": 1000}).json()["items"]


def _runs(client: httpx.Client, job_id: str) -> list[dict[str, Any]]:
    return client.get("/v1/jobs", params={"parent_job_id": job_id, "limit": 200}).json()["items"]


def _fired(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in events if e["type"] == "ScheduleFired"]


def test_an_every_second_schedule_makes_one_run_per_second(stack: httpx.Client) -> None:
    job = submit_job(stack, ["echo", "tick"], name="every-second", schedule={"every": "1s"})
    job_id = job["job_id"]
    wait_until(lambda: len(_fired(_events(stack, job_id))) >= 6, 30, "six fires")
    cancelled = stack.post(f"/v1/jobs/{job_id}/cancel", json={"reason": "test over"})
    assert cancelled.status_code in (200, 202), cancelled.text

    fired = _fired(_events(stack, job_id))
    dues = [parse_time(e["payload"]["due_at"]) for e in fired]
    assert [b - a for a, b in pairwise(dues)] == [timedelta(seconds=1)] * (len(dues) - 1), dues
    assert all(parse_time(e["occurred_at"]) >= due for e, due in zip(fired, dues, strict=True)), "a fire came early"
    fired_at = [parse_time(e["occurred_at"]) for e in fired]
    assert len([at for at in fired_at if at < dues[0] + timedelta(seconds=5)]) == 5, "one fire per second, in time"
    run_ids = [e["payload"]["run_job_id"] for e in fired]
    assert run_ids == [f"{job_id}.r{n}" for n in range(1, len(fired) + 1)]

    finished = wait_terminal(stack, run_ids[:5], timeout_s=30)
    for run_id in run_ids[:5]:
        assert finished[run_id]["status"] == "completed" and finished[run_id]["parent_job_id"] == job_id
        executions = stack.get(f"/v1/jobs/{run_id}/executions").json()["items"]
        assert len(executions) == 1, executions  # one execution per fire
    parent = stack.get(f"/v1/jobs/{job_id}").json()
    assert parent["status"] == "cancelled" and parent["runs"] >= 6
    assert {r["job_id"] for r in _runs(stack, job_id)} >= set(run_ids[:5])


def test_forbid_skips_fires_while_a_run_goes_on_and_says_so(stack: httpx.Client) -> None:
    job = submit_job(stack, ["sleep", "2.5"], name="forbid", schedule={"every": "1s", "concurrency": "forbid"})
    job_id = job["job_id"]
    wait_until(lambda: len(_fired(_events(stack, job_id))) >= 2, 40, "two runs")
    stack.post(f"/v1/jobs/{job_id}/cancel", json={"reason": "test over"})

    events = _events(stack, job_id)
    skipped = [e for e in events if e["type"] == "ScheduleSkipped"]
    assert skipped and {e["payload"]["reason"] for e in skipped} == {"overlap"}
    first, second = [e["payload"]["run_job_id"] for e in _fired(events)][:2]
    run_one = wait_terminal(stack, [first], timeout_s=30)[first]
    second_fired = parse_time(_fired(events)[1]["occurred_at"])
    assert parse_time(run_one["finished_at"]) <= second_fired, "the second run started while the first still ran"
    assert any(e["type"] == "ScheduleRunFinished" and e["payload"]["run_job_id"] == first for e in events)


def test_a_cron_job_shows_its_next_run_in_utc(stack: httpx.Client) -> None:
    job = submit_job(stack, ["true"], name="nightly", schedule={"cron": "0 3 * * *", "timezone": "Europe/Paris"})
    wait_until(lambda: stack.get(f"/v1/jobs/{job['job_id']}").json()["status"] == "scheduled", 15, "scheduled")
    job = stack.get(f"/v1/jobs/{job['job_id']}").json()
    next_run = parse_time(job["next_run_at"])
    assert job["status"] == "scheduled" and next_run.utcoffset() == timedelta(0)
    assert next_run.hour in (1, 2) and next_run.minute == 0  # 03:00 in Paris is 01:00 or 02:00 UTC


def test_fires_missed_while_the_timer_processor_was_down_are_skipped_then_it_runs_once(
        stack: httpx.Client, services: dict[str, ServiceProcess]) -> None:
    job = submit_job(stack, ["true"], name="misfire", schedule={"every": "1s", "misfire": "run_once"})
    job_id = job["job_id"]
    wait_until(lambda: len(_fired(_events(stack, job_id))) >= 2, 30, "two fires")
    services["timers"].kill()
    down_at = time.monotonic()
    # Only what follows the outage counts: a fire the busy machine made late before it may be a skip too.
    before_outage = _events(stack, job_id)[-1]["seq"]
    # The outage is the scenario: hold it for four seconds of missed fires.
    wait_until(lambda: time.monotonic() - down_at >= 4, 10, "the outage", interval_s=0.5)
    services["timers"] = services["timers"].restarted()

    def since_outage() -> list[dict[str, Any]]:
        return [e for e in _events(stack, job_id) if e["seq"] > before_outage]

    wait_until(lambda: any(e["type"] == "ScheduleSkipped" for e in since_outage()), 60, "the misfire skips")
    stack.post(f"/v1/jobs/{job_id}/cancel", json={"reason": "test over"})
    events = since_outage()
    first_skip = next(i for i, e in enumerate(events) if e["type"] == "ScheduleSkipped")
    skipped = [e for e in events[first_skip:] if e["type"] == "ScheduleSkipped"]
    assert {e["payload"]["reason"] for e in skipped} == {"misfire"} and len(skipped) >= 3
    after_outage = [e for e in events[first_skip:] if e["type"] in ("ScheduleSkipped", "ScheduleFired")]
    batch = after_outage[:len(skipped) + 1]
    assert [e["type"] for e in batch] == ["ScheduleSkipped"] * len(skipped) + ["ScheduleFired"], "runs once"
    dues = [parse_time(e["payload"]["due_at"]) for e in batch]
    assert [b - a for a, b in pairwise(dues)] == [timedelta(seconds=1)] * (len(dues) - 1)


def test_pause_resume_and_a_schedule_change_over_http(stack: httpx.Client) -> None:
    job_id = submit_job(stack, ["true"], name="pausable", schedule={"every": "1s"})["job_id"]
    wait_until(lambda: len(_fired(_events(stack, job_id))) >= 1, 30, "a first fire")

    paused = stack.post(f"/v1/jobs/{job_id}/pause")
    assert paused.status_code == 200 and paused.json()["status"] == "paused", paused.text
    paused_at = time.monotonic()
    # Being paused for a few seconds is the scenario: fires come due meanwhile.
    wait_until(lambda: time.monotonic() - paused_at >= 3, 10, "the pause", interval_s=0.5)
    resumed = stack.post(f"/v1/jobs/{job_id}/resume")
    assert resumed.status_code == 200 and resumed.json()["status"] == "scheduled", resumed.text

    events = _events(stack, job_id)
    after_resume = events[[e["type"] for e in events].index("JobResumed"):]
    skipped = [e for e in after_resume if e["type"] == "ScheduleSkipped"]
    assert skipped and {e["payload"]["reason"] for e in skipped} == {"paused"}, after_resume

    changed = stack.patch(f"/v1/jobs/{job_id}", json={"schedule": {"every": "1h"}})
    assert changed.status_code == 200, changed.text
    next_run = parse_time(changed.json()["next_run_at"])
    assert timedelta(minutes=59) < next_run - parse_time(changed.json()["updated_at"]) <= timedelta(hours=1)
    refused = stack.patch(f"/v1/jobs/{job_id}", json={"schedule": {"at": "2030-01-01T00:00:00Z"}})
    assert refused.status_code == 409 and "one-shot" in refused.text

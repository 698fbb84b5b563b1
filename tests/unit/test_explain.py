"""``jobstream explain``: why a job has not run, in one paragraph, for each reason there can be."""

from __future__ import annotations

import json

import httpx

from jobstream.explain import Evidence, explain
from tests.unit.test_api_client import run

JOB = {"job_id": "j1", "name": "report", "queue": "q", "priority": 5, "attempt": 1,
       "submitted_at": "2026-01-01T12:00:00Z", "queued_at": "2026-01-01T12:00:01Z"}
WORKER = {"worker_id": "w1", "status": "active", "queues": ["q"], "slots": 4, "free_slots": 0}


def test_pending_names_the_upstreams_not_finished_or_not_submitted() -> None:
    job = {**JOB, "status": "pending", "spec": {"depends_on": [{"job_id": "a"}, {"job_id": "b"}, {"job_id": "c"}]}}
    text = explain(Evidence(job, upstreams={"a": {"status": "completed"}, "b": {"status": "running"}, "c": None}))
    assert "waits for 2 of its 3 upstream jobs to succeed: b (running), c (not submitted yet)" in text


def test_scheduled_says_the_next_run_or_the_retry() -> None:
    job = {**JOB, "status": "scheduled", "next_run_at": "2026-01-02T03:00:00Z", "runs": 4,
           "spec": {"schedule": {"cron": "0 3 * * *", "timezone": "Europe/Paris"}}}
    skipped = {"type": "ScheduleSkipped", "payload": {"reason": "paused"}}
    text = explain(Evidence(job, events=[skipped]))
    assert "cron '0 3 * * *' (Europe/Paris)" in text and "next run is at 2026-01-02 03:00:00Z, 4 runs" in text
    assert "skipped because paused" in text
    retry = {"type": "JobRetryScheduled", "payload": {"retry_at": "2026-01-01T12:05:00Z"}}
    text = explain(Evidence({**job, "last_error": "exited with code 3"}, events=[retry]))
    assert "attempt 1 failed (exited with code 3)" in text and "again at 2026-01-01 12:05:00Z" in text


def test_paused_says_how_to_resume() -> None:
    text = explain(Evidence({**JOB, "status": "paused"}, events=[{"type": "JobPaused",
                                                                  "occurred_at": "2026-01-01T13:00:00Z"}]))
    assert "paused at 2026-01-01 13:00:00Z" in text and "jobstream resume j1" in text


def test_queued_says_which_of_no_worker_no_fitting_worker_the_limit_or_busy_slots_holds_it() -> None:
    queued = {**JOB, "status": "queued"}
    assert "no live worker serves queue q" in explain(Evidence(queued))
    unfit = {**queued, "waiting_reason": "no live worker of queue q has the label gpu=a100"}
    assert "has the label gpu=a100" in explain(Evidence(unfit, workers=[WORKER]))
    limited = explain(Evidence(queued, workers=[WORKER], running_in_queue=2, queue_limit=2))
    assert "queue q is at its limit of 2 executions in flight (JOBSTREAM_QUEUE_LIMITS)" in limited
    busy = explain(Evidence(queued, workers=[WORKER], ahead_in_queue=7))
    assert "all 4 slots of the 1 live workers serving queue q are busy" in busy and "after 7 queued jobs" in busy
    free = explain(Evidence(queued, workers=[{**WORKER, "free_slots": 2}]))
    assert "2 of 4 slots are free" in free


def test_a_job_that_ran_says_what_became_of_it() -> None:
    assert "completed at" in explain(Evidence({**JOB, "status": "completed", "finished_at": "2026-01-01T12:01:00Z"}))
    failed = explain(Evidence({**JOB, "status": "failed", "tries": 3, "last_error": "boom"}))
    assert "ran 3 time(s) and failed" in failed and "boom" in failed and "jobstream retry j1" in failed
    cancelled = explain(Evidence({**JOB, "status": "cancelled"}, events=[{"type": "JobCancelled",
                                                                         "payload": {"reason": "upstream_failed"}}]))
    assert "cancelled (upstream_failed)" in cancelled
    assert "runs on worker" in explain(Evidence({**JOB, "status": "running", "worker_id": "w1"}))


def test_the_command_gathers_the_queue_s_workers_and_load() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        path, params = request.url.path, request.url.params
        if path == "/v1/jobs/j1":
            return httpx.Response(200, json={**JOB, "status": "queued"})
        if path == "/v1/jobs/j1/events":
            return httpx.Response(200, json={"items": []})
        if path == "/v1/workers":
            return httpx.Response(200, json={"items": [WORKER, {**WORKER, "worker_id": "w2", "queues": ["other"]}]})
        if path == "/v1/jobs" and params["status"] == "queued":
            return httpx.Response(200, json={"items": [{"job_id": "j0", "submitted_at": "2026-01-01T11:00:00Z"},
                                                       {"job_id": "j1", "submitted_at": JOB["submitted_at"]}]})
        return httpx.Response(200, json={"items": [{"job_id": "r"}]})  # running in the queue

    result = run(handle, "explain", "j1", "-o", "json")
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert answer["status"] == "queued"
    assert "all 4 slots of the 1 live workers serving queue q are busy" in answer["explanation"]
    assert "after 1 queued jobs" in answer["explanation"]

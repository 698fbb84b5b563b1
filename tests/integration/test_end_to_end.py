"""The main path, real from end to end: HTTP submit, state processor, dispatcher, worker,
projector, HTTP reads. Every process is a real `python -m jobstream ...` process."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from tests.integration.harness import parse_time, submit_job, wait_terminal

JOBS = 200


def test_jobs_over_http_run_to_completion_with_an_exact_audit_trail(stack: httpx.Client) -> None:
    # Given the whole stack, when 200 jobs are submitted over HTTP, one of which exits 3
    ok = [submit_job(stack, ["echo", f"job {n}"])["job_id"] for n in range(JOBS - 1)]
    failing = submit_job(stack, ["sh", "-c", "echo doomed >&2; exit 3"], name="exits-3")
    assert failing["status"] in {"queued", "assigned", "running", "failed"}  # read-your-writes: it exists

    # Then every job finishes: the good ones completed, the bad one failed with its exit code
    jobs = wait_terminal(stack, ok + [failing["job_id"]], timeout_s=120)
    assert {jobs[j]["status"] for j in ok} == {"completed"}
    bad = jobs[failing["job_id"]]
    assert bad["status"] == "failed" and bad["exit_code"] == 3
    execution = stack.get(f"/v1/jobs/{failing['job_id']}/executions").json()["items"][0]
    assert execution["exit_code"] == 3 and "doomed" in execution["stderr_tail"]

    # And each job's events show each transition once, in order
    for job_id in ok[:20] + [failing["job_id"]]:
        events = stack.get(f"/v1/jobs/{job_id}/events").json()["items"]
        assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
        types = [e["type"] for e in events]
        final = "JobFailed" if job_id == failing["job_id"] else "JobCompleted"
        assert types == ["JobSubmitted", "JobQueued", "JobAssigned", "JobStarted", final], types


def test_cancelling_a_job_no_worker_serves(stack: httpx.Client) -> None:
    job = submit_job(stack, ["echo", "never"], queue="nobody-serves-this")
    assert job["status"] == "queued"
    cancelled = stack.post(f"/v1/jobs/{job['job_id']}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    assert stack.get(f"/v1/jobs/{job['job_id']}").json()["status"] == "cancelled"
    types = [e["type"] for e in stack.get(f"/v1/jobs/{job['job_id']}/events").json()["items"]]
    assert types == ["JobSubmitted", "JobQueued", "JobCancelled"]
    again = stack.post(f"/v1/jobs/{job['job_id']}/cancel")
    assert again.status_code == 409 and again.headers["content-type"].startswith("application/problem+json")


def _poll(check, timeout_s: float, what: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while (result := check()) is None or result is False:
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)  # polling interval of a deadline-bounded wait
    return result


def test_cancelling_a_running_job_stops_its_process(stack: httpx.Client) -> None:
    job = submit_job(stack, ["sleep", "120"], name="long")
    job_id = job["job_id"]
    running = _poll(lambda: (j := stack.get(f"/v1/jobs/{job_id}").json())["status"] == "running" and j, 60,
                    "the job to run")
    execution_id, worker_id = running["execution_id"], running["worker_id"]
    _poll(lambda: execution_id in stack.get(f"/v1/workers/{worker_id}").json()["running"], 30,
          "the worker's heartbeat to list the execution")

    response = stack.post(f"/v1/jobs/{job_id}/cancel", json={"reason": "operator said so"})
    assert response.status_code == 200, response.text
    assert stack.get(f"/v1/jobs/{job_id}").json()["status"] == "cancelled"
    # The worker killed the process group: its heartbeat no longer lists the execution.
    _poll(lambda: execution_id not in stack.get(f"/v1/workers/{worker_id}").json()["running"], 30,
          "the worker to stop the execution")
    assert stack.get(f"/v1/executions/{execution_id}").json()["status"] == "cancelled"


def test_a_job_that_fails_twice_then_succeeds_retries_after_its_backoff(stack: httpx.Client, tmp_path: Path) -> None:
    counter = tmp_path / "tries"
    script = f"n=$(cat {counter} 2>/dev/null || echo 0); n=$((n+1)); echo $n > {counter}; [ $n -ge 3 ]"
    retry = {"max_attempts": 3, "initial_backoff_s": 1.0, "multiplier": 2.0, "max_backoff_s": 10, "jitter": "none"}
    job = submit_job(stack, ["sh", "-c", script], name="flaky", retry=retry)

    done = wait_terminal(stack, [job["job_id"]], timeout_s=60)[job["job_id"]]
    assert done["status"] == "completed" and counter.read_text().strip() == "3"
    executions = sorted(stack.get(f"/v1/jobs/{job['job_id']}/executions").json()["items"], key=lambda e: e["attempt"])
    assert [e["status"] for e in executions] == ["failed", "failed", "succeeded"]
    starts = [parse_time(e["started_at"]) for e in executions]
    ends = [parse_time(e["finished_at"]) for e in executions]
    assert (starts[1] - ends[0]).total_seconds() >= 1.0  # initial_backoff_s
    assert (starts[2] - ends[1]).total_seconds() >= 2.0  # times the multiplier
    types = [e["type"] for e in stack.get(f"/v1/jobs/{job['job_id']}/events").json()["items"]]
    assert types.count("JobRetryScheduled") == 2 and types.count("JobQueued") == 3


def test_exhausted_retries_are_dead_lettered(stack: httpx.Client) -> None:
    retry = {"max_attempts": 2, "initial_backoff_s": 0.2, "jitter": "none"}
    job = submit_job(stack, ["sh", "-c", "exit 7"], name="doomed", retry=retry)
    done = wait_terminal(stack, [job["job_id"]], timeout_s=60)[job["job_id"]]
    assert done["status"] == "failed" and done["exit_code"] == 7
    types = [e["type"] for e in stack.get(f"/v1/jobs/{job['job_id']}/events").json()["items"]]
    assert types[-2:] == ["JobFailed", "JobDeadLettered"] and types.count("JobQueued") == 2
    listed = stack.get("/v1/dlq").json()["items"]
    assert job["job_id"] in [j["job_id"] for j in listed]
    entry = next(j for j in listed if j["job_id"] == job["job_id"])
    assert entry["last_error"] == "exited with code 7" and entry["dead_lettered_at"]

    # Redriving runs it again with a fresh retry budget: two more tries, dead-lettered again.
    redriven = stack.post(f"/v1/dlq/{job['job_id']}/redrive")
    assert redriven.status_code == 200, redriven.text
    assert redriven.json()["status"] in {"queued", "assigned", "running", "scheduled", "failed"}
    _poll(lambda: [e["type"] for e in stack.get(f"/v1/jobs/{job['job_id']}/events").json()["items"]]
          .count("JobDeadLettered") == 2, 60, "the redriven job to be dead-lettered again")
    assert stack.post(f"/v1/dlq/{job['job_id']}/redrive").status_code in {200, 202}
    assert stack.post("/v1/dlq/unknown-job/redrive").status_code == 404


def test_a_one_shot_job_two_seconds_ahead_runs_once_on_time(stack: httpx.Client) -> None:
    from datetime import UTC, datetime, timedelta

    at = datetime.now(UTC) + timedelta(seconds=2)
    job = submit_job(stack, ["echo", "on time"], name="one-shot", schedule={"at": at.isoformat()})
    assert job["status"] in {"scheduled", "queued", "assigned", "running", "completed"}  # read-your-writes

    done = wait_terminal(stack, [job["job_id"]], timeout_s=30)[job["job_id"]]
    assert done["status"] == "completed"
    [execution] = stack.get(f"/v1/jobs/{job['job_id']}/executions").json()["items"]
    started = parse_time(execution["started_at"])
    assert at <= started, "ran early"
    print(f"one-shot started {(started - at).total_seconds() * 1000:.0f} ms after its time")
    assert (started - at).total_seconds() < 2.0  # a generous guard; lateness is benchmarked
    events = stack.get(f"/v1/jobs/{job['job_id']}/events").json()["items"]
    assert [e["type"] for e in events] == ["JobSubmitted", "JobScheduled", "ScheduleFired", "JobQueued",
                                           "JobAssigned", "JobStarted", "JobCompleted"]
    assert parse_time(events[1]["payload"]["next_run_at"]) == at
    assert parse_time(events[2]["occurred_at"]) >= at, "fired early"

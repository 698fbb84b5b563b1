"""The CLI against the real stack: what `jobstream submit` sends runs as the API would run it, and the
operators' commands (retry, dlq, workers) act on the real jobs and worker."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
from typer.testing import CliRunner

from jobstream.cli import app
from tests.credentials import cli_env
from tests.integration.harness import poll

JOBS = "tests.integration.jobs_for_tests"
TIMEOUT_S = 90  # a job's life on a busy 2-core machine


def cli(client: httpx.Client, *args: str) -> str:
    result = CliRunner().invoke(app, list(args), env={**cli_env(client), "COLUMNS": "100"})
    assert result.exit_code == 0, (args, result.output)
    return result.stdout


def submit(client: httpx.Client, *args: str) -> str:
    return str(json.loads(cli(client, "submit", "-o", "json", *args))["job_id"])


def job_once(client: httpx.Client, job_id: str, done: Callable[[dict[str, Any]], Any]) -> dict[str, Any]:
    """The job once ``done(job)`` holds."""
    def check() -> dict[str, Any] | None:
        job: dict[str, Any] = client.get(f"/v1/jobs/{job_id}").json()
        return job if done(job) else None
    return poll(check, TIMEOUT_S, f"job {job_id} to reach the expected state")


def test_submitted_tasks_schedules_and_dependencies_run_and_show(stack: httpx.Client) -> None:
    # Given a python job, a shell job after it, and a recurring job, submitted with the CLI
    first = submit(stack, "--python", f"{JOBS}:greet", "--arg", "ada", "--kwarg", "punctuation=?")
    then = submit(stack, "--after", first, "--name", "after", "--", "sh", "-c", "echo after $JOBSTREAM_JOB_ID")
    nightly = submit(stack, "--cron", "0 3 * * *", "--tz", "Europe/Paris", "--", "true")

    # Then they run (or wait for their schedule) as the API says
    done = job_once(stack, then, lambda j: j["status"] == "completed")
    greeted = stack.get(f"/v1/jobs/{first}").json()
    assert greeted["status"] == "completed" and json.loads(greeted["result_json"])["greeting"] == "hello ada?"
    scheduled = job_once(stack, nightly, lambda j: j["status"] == "scheduled" and j["next_run_at"])
    assert scheduled["spec"]["schedule"]["timezone"] == "Europe/Paris"

    # And get shows the execution id and the result; logs takes the job id; ls lists the last submitted first
    shown = cli(stack, "get", first)
    assert f"{first}.1" in shown and "hello ada?" in shown
    assert "next_run_at" in cli(stack, "get", nightly)
    assert cli(stack, "logs", then) == f"after {then}\n"
    assert cli(stack, "logs", done["execution_id"]) == f"after {then}\n"
    listed = [job["job_id"] for job in json.loads(cli(stack, "ls", "-o", "json"))["items"]]
    assert listed == [nightly, then, first]
    table = cli(stack, "ls")
    assert all(job_id in table for job_id in listed)


def test_retry_dead_letters_and_workers(stack: httpx.Client) -> None:
    # Given a job with a retry policy that fails on its only attempt: it is dead-lettered
    failing = submit(stack, "--python", f"{JOBS}:fail", "--arg", "no luck", "--retry", "1")
    job_once(stack, failing, lambda j: j["status"] == "failed")
    dead = poll(lambda: json.loads(cli(stack, "dlq", "ls", "-o", "json"))["items"], TIMEOUT_S, "the dead letter")
    assert [job["job_id"] for job in dead] == [failing]

    # When it is redriven, then retried, each runs it again as a new attempt
    cli(stack, "dlq", "redrive", failing)
    job_once(stack, failing, lambda j: j["status"] == "failed" and j["attempt"] == 2)
    cli(stack, "retry", failing)
    again = job_once(stack, failing, lambda j: j["status"] == "failed" and j["attempt"] == 3)
    assert again["last_error"].startswith("ValueError: no luck")

    # And the worker is listed with its full id, and drains when asked
    [worker] = poll(lambda: json.loads(cli(stack, "workers", "ls", "-o", "json"))["items"], TIMEOUT_S, "the worker")
    assert worker["worker_id"] in cli(stack, "workers", "ls")
    assert "drain requested" in cli(stack, "workers", "drain", worker["worker_id"], "--reason", "test")
    poll(lambda: stack.get(f"/v1/workers/{worker['worker_id']}").json()["status"] in ("draining", "deregistered"),
         TIMEOUT_S, "the worker to drain")


def test_explain_and_top_say_why_jobs_wait_from_the_real_read_model(stack: httpx.Client) -> None:
    # Given a job on a queue no worker serves, and a job waiting for it
    stranded = submit(stack, "--queue", "nobody-serves-this", "--", "true")
    waiting = submit(stack, "--after", stranded, "--", "true")
    # Then explain names the missing worker, and the upstream the second waits for
    stranded_answer = json.loads(cli(stack, "explain", stranded, "-o", "json"))["explanation"]
    assert "no live worker serves queue 'nobody-serves-this'" in stranded_answer, stranded_answer
    answer = json.loads(cli(stack, "explain", waiting, "-o", "json"))
    assert answer["status"] == "pending" and f"{stranded} (queued)" in answer["explanation"], answer
    # And top shows that queue with its job waiting and no worker, beside the stack's worker
    view = cli(stack, "top", "--once")
    assert "1 live workers" in view and any(line.split()[:5] == ["nobody-serves-this", "1", "0", "0", "0"]
                                            for line in view.splitlines() if line.strip()), view

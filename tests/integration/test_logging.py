"""What the processes of a stack log: one start line each, no library chatter below WARNING, no
HTTP access lines; with JOBSTREAM_LOG_FORMAT=json, JSON objects with the job's fields."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import httpx
import pytest

from jobstream.config import Settings
from jobstream.infra.process import free_port
from jobstream.infra.topics import Topics
from jobstream.logging_setup import LIBRARY_LOGGERS
from tests.integration.harness import ServiceProcess, api_stack, poll, submit_job, wait_terminal

NAMES = ["state-processor", "dispatcher", "timers", "monitor", "projector", "logs-projector", "api", "worker"]
START_LINES = {  # what each process's start line begins with
    "state-processor": "state processor: consumes", "dispatcher": "dispatcher: consumes",
    "timers": "timer processor: consumes", "monitor": "worker monitor: watches", "projector": "projector: projects",
    "logs-projector": "logs projector: projects", "api": "api: http://127.0.0.1:", "worker": "worker ",
}
FAUST_PROCESSES = {"dispatcher", "timers", "monitor"}  # faust replaces the root logger's handler
TIMEOUT_S = 90


@pytest.fixture
def json_stack(test_settings: Settings, topics_ready: Topics, services: dict[str, ServiceProcess], tmp_path: Path,
               unique_name: str) -> Iterator[httpx.Client]:
    settings = test_settings.with_(api_url=f"http://127.0.0.1:{free_port()}", log_format="json")
    with api_stack(settings, services, tmp_path, unique_name, NAMES) as client:
        yield client


def lines(process: ServiceProcess) -> list[str]:
    return process.log_path.read_text(errors="replace").splitlines()


def started(services: dict[str, ServiceProcess]) -> None:
    """Wait until every process has said it started (the worker says so once it is serving)."""
    for name, process in services.items():
        poll(partial(said, process, START_LINES[name]), TIMEOUT_S, f"{name}'s start line")


def said(process: ServiceProcess, text: str) -> bool:
    return any(text in line for line in lines(process))


def test_processes_say_what_they_are_once_and_libraries_and_requests_stay_quiet(
        test_settings: Settings, topics_ready: Topics, services: dict[str, ServiceProcess], tmp_path: Path,
        unique_name: str) -> None:
    # Given a stack that ran a job and answered requests
    settings = test_settings.with_(api_url=f"http://127.0.0.1:{free_port()}")
    with api_stack(settings, services, tmp_path, unique_name, NAMES) as client:
        job = submit_job(client, ["echo", "hi"])
        wait_terminal(client, [job["job_id"]], TIMEOUT_S)
        for _ in range(3):
            assert client.get("/v1/jobs").status_code == 200
        started(services)

    # Then each process said what it is once, and neither the libraries nor the requests spoke
    noisy = re.compile(rf" (DEBUG|INFO) ({'|'.join(map(re.escape, LIBRARY_LOGGERS))})[.:]")
    for name, process in services.items():
        text = lines(process)
        assert sum(START_LINES[name] in line for line in text) == 1, (name, text)
        assert not [line for line in text if noisy.search(line) or "GET /v1/jobs" in line], (name, text)
        assert not [line for line in text if line.startswith("INFO:")], (name, text)  # uvicorn's own format


def test_json_logs_carry_the_job_s_fields(json_stack: httpx.Client, services: dict[str, ServiceProcess]) -> None:
    # Given a job running on the worker, when it is cancelled
    job = submit_job(json_stack, ["sleep", "60"])
    poll(lambda: json_stack.get(f"/v1/jobs/{job['job_id']}").json()["status"] == "running", TIMEOUT_S, "the job to run")
    assert json_stack.post(f"/v1/jobs/{job['job_id']}/cancel").status_code in (200, 202)
    wait_terminal(json_stack, [job["job_id"]], TIMEOUT_S)
    started(services)

    # Then the worker's line about it is a JSON object with the job's, execution's and worker's ids
    records = [json.loads(line) for line in lines(services["worker"])]
    [cancelling] = [r for r in records if r["message"].startswith("cancelling ")]
    assert cancelling["job_id"] == job["job_id"] and cancelling["execution_id"] == f"{job['job_id']}.1"
    assert cancelling["worker_id"] and cancelling["process"] == "worker" and cancelling["level"] == "INFO"
    # And every line of every process is JSON (faust's processes: jobstream's own lines)
    for name, process in services.items():
        for line in lines(process):
            if name not in FAUST_PROCESSES or "jobstream." in line:
                assert isinstance(json.loads(line), dict), (name, line)

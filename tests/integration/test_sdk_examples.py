"""The SDK's examples (examples/sdk) run as their README says, against the real stack: the HTTP
client (sync and async), the Kafka producer, and tasks submitted with ``add.submit(1, 2)`` on a
worker started with ``--python-path examples/sdk``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

from jobstream.config import Settings
from tests.integration.harness import ServiceProcess

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "sdk"


def _run_example(script: str, stack: httpx.Client, settings: Settings) -> list[str]:
    env = {**os.environ, **settings.as_env(), "JOBSTREAM_API_URL": str(stack.base_url).rstrip("/"),
           "PYTHONPATH": str(EXAMPLES)}
    done = subprocess.run([sys.executable, str(EXAMPLES / script)], env=env, capture_output=True, text=True,
                          timeout=240, check=False)
    assert done.returncode == 0, f"{script} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout.splitlines()


def test_the_http_client_example_submits_waits_reads_lists_batches_and_cancels(
        stack: httpx.Client, test_settings: Settings) -> None:
    lines = _run_example("http_client.py", stack, test_settings)
    assert lines == ["completed hello from the sdk", "load completed", "sleeper cancelled", "listed 4",
                     "async ['completed', 'completed', 'completed']"], lines
    # And the long-poll behind wait: an unknown job is a 404 at once, a running one is answered as it
    # is once the bound passed
    unknown = stack.get("/v1/jobs/no-such-job:wait", params={"timeout_s": 0.2})
    assert unknown.status_code == 404 and "no-such-job" in unknown.json()["detail"], unknown.text
    sleeper = stack.post("/v1/jobs", json={"name": "s", "task": {"type": "shell", "argv": ["sleep", "60"]}}).json()
    held = stack.get(f"/v1/jobs/{sleeper['job_id']}:wait", params={"timeout_s": 0.5})
    assert held.status_code == 200 and held.json()["status"] in {"queued", "running"}, held.text


def test_the_kafka_producer_example_submits_a_job_the_api_then_sees_complete(
        stack: httpx.Client, test_settings: Settings) -> None:
    lines = _run_example("kafka_producer.py", stack, test_settings)
    assert lines[0].startswith("sent ") and lines[1] == "status completed", lines
    job_id, command_id = lines[0].split()[1:]
    command = stack.get(f"/v1/commands/{command_id}").json()
    assert command["status"] == "accepted" and command["job_id"] == job_id, command
    assert stack.get(f"/v1/jobs/{job_id}/events").json()["items"][0]["actor"] == "billing-service"


def test_tasks_submitted_by_calling_submit_run_on_a_worker_with_the_python_path(
        stack: httpx.Client, test_settings: Settings, services: dict[str, ServiceProcess], tmp_path: Path) -> None:
    args = ["worker", "--queue", "examples", "--slots", "2", "--python-path", str(EXAMPLES)]
    services["examples-worker"] = ServiceProcess("examples-worker", args, test_settings, tmp_path).start()
    lines = _run_example("tasks_demo.py", stack, test_settings)
    assert lines == ["add completed 3", "word_lengths completed {'kafka': 5, 'avro': 4}"], lines

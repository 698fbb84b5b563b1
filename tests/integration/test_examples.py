"""The examples/ Python package, run by a worker started with --python-path (as its README says),
beside the stack's own worker, which has no python path and so does not allow it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from jobstream.config import Settings
from tests.integration.harness import ServiceProcess, poll

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "python_tasks"
TERMINAL = {"completed", "failed", "cancelled"}


def _run(client: httpx.Client, queue: str, entrypoint: str, args: list[Any], isolation: str = "process") -> dict:  # type: ignore[type-arg]
    task = {"type": "python", "entrypoint": entrypoint, "args": args, "isolation": isolation}
    response = client.post("/v1/jobs", json={"name": "example", "queue": queue, "task": task})
    assert response.status_code == 201, response.text
    job_id = response.json()["job_id"]
    return poll(lambda: (j := client.get(f"/v1/jobs/{job_id}").json())["status"] in TERMINAL and j, 90,
                f"{entrypoint} on queue {queue} to finish")


def test_the_example_package_runs_on_a_worker_started_with_python_path(
        stack: httpx.Client, test_settings: Settings, services: dict[str, ServiceProcess], tmp_path: Path) -> None:
    # Given a worker on queue "examples" started with --python-path examples/python_tasks
    args = ["worker", "--queue", "examples", "--slots", "2", "--python-path", str(EXAMPLES)]
    services["examples-worker"] = ServiceProcess("examples-worker", args, test_settings, tmp_path).start()

    # When the example's two functions run there, in a child process and inline
    words = _run(stack, "examples", "textstats.tasks:count_words", ["the cat and the hat"])
    mean = _run(stack, "examples", "textstats.tasks:mean", [1, 2, 6], isolation="inline")

    # Then both complete with the results the example's README shows
    assert words["status"] == "completed", words
    assert json.loads(words["result_json"]) == {"words": 5, "most_common": [["the", 2], ["cat", 1], ["and", 1]]}
    assert mean["status"] == "completed" and json.loads(mean["result_json"]) == 3.0, mean

    # And the stack's worker, whose python path does not hold the package, refuses the same job
    # before importing anything, saying how to allow it
    lost = _run(stack, "default", "textstats.tasks:count_words", ["no path"])
    assert lost["status"] == "failed", lost
    assert lost["last_error"].startswith("entrypoint 'textstats.tasks:count_words' is not allowed on this worker")
    assert "--allow-module" in lost["last_error"]

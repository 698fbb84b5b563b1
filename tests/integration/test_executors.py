"""Executors end to end: an http job against a local server, a python job returning JSON, and the
logs of a job printing 10,000 lines, followed while it runs and read afterwards. Every jobstream
process is a real `python -m jobstream ...` process against the real broker and Postgres."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from jobstream.config import Settings
from jobstream.core.lifecycle import TERMINAL
from tests.integration.harness import poll

LINES = 10_000


def _submit(client: httpx.Client, task: dict[str, Any], **fields: Any) -> str:
    response = client.post("/v1/jobs", json={"name": fields.pop("name", "executors"), "task": task, **fields})
    assert response.status_code == 201, response.text
    return str(response.json()["job_id"])


def _finished(client: httpx.Client, job_id: str, timeout_s: float = 60) -> dict[str, Any]:
    return poll(lambda: (j := client.get(f"/v1/jobs/{job_id}").json())["status"] in TERMINAL and j, timeout_s,
                 f"job {job_id} to finish")


def _logs(client: httpx.Client, execution_id: str, after_seq: int = 0) -> dict[str, Any]:
    response = client.get(f"/v1/executions/{execution_id}/logs", params={"after_seq": after_seq, "limit": 1000})
    assert response.status_code == 200, response.text
    return dict(response.json())


def _read_all(client: httpx.Client, execution_id: str) -> tuple[list[dict[str, Any]], bool]:
    """Every chunk projected so far, and whether the eof marker was among them."""
    chunks: list[dict[str, Any]] = []
    after = 0
    while True:
        page = _logs(client, execution_id, after)
        chunks += page["items"]
        after = page["next_after_seq"]
        if not page["items"]:
            return chunks, page["complete"]


def _complete_log(client: httpx.Client, execution_id: str) -> list[dict[str, Any]] | None:
    chunks, complete = _read_all(client, execution_id)
    return chunks if complete else None


def test_an_http_job_completes_with_status_and_body(stack: httpx.Client, web: str) -> None:
    # Given a local server, when a GET and a POST job call it
    get = _submit(stack, {"type": "http", "url": f"{web}/thing", "headers": {"x-test": "jobstream"}})
    post = _submit(stack, {"type": "http", "method": "POST", "url": f"{web}/echo", "body": '{"sent": true}',
                           "expected_status": [201]})
    wrong = _submit(stack, {"type": "http", "url": f"{web}/thing", "expected_status": [204]})

    # Then both complete, with the status and the body in their result
    job = _finished(stack, get)
    assert job["status"] == "completed" and job["exit_code"] == 200
    result = json.loads(job["result_json"])
    assert result["status"] == 200 and result["body"] == {"thing": 42, "agent": "jobstream"}
    assert json.loads(_finished(stack, post)["result_json"])["body"] == {"sent": True}
    # And the logs of an unknown execution are a 404, a bad cursor a 422 naming it
    missing = stack.get("/v1/executions/no-such-execution/logs")
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("application/problem+json")
    bad = stack.get(f"/v1/executions/{job['execution_id']}/logs", params={"after_seq": -1})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "after_seq"
    # And an unexpected status fails, saying so
    failed = _finished(stack, wrong)
    assert failed["status"] == "failed" and failed["exit_code"] == 200 and "expected 204" in failed["last_error"]


def test_a_python_job_returns_json_reports_progress_and_is_refused_a_module_not_allowed(stack: httpx.Client) -> None:
    job_id = _submit(stack, {"type": "python", "entrypoint": "tests.integration.jobs_for_tests:greet",
                             "args": ["ada"], "kwargs": {"punctuation": "?"}})
    job = _finished(stack, job_id)
    assert job["status"] == "completed", job
    assert json.loads(job["result_json"]) == {"greeting": "hello ada?", "execution_id": job["execution_id"]}

    progressing = _submit(stack, {"type": "python", "entrypoint": "tests.integration.jobs_for_tests:with_progress",
                                  "args": [4]})
    done = _finished(stack, progressing)
    assert done["status"] == "completed" and done["result_json"] == "4"
    execution = poll(lambda: (e := stack.get(f"/v1/executions/{done['execution_id']}").json())
                      ["progress_percent"] == 100 and e, 30, "the last progress on the execution")
    assert execution["progress_message"] == "step 4 of 4"

    failing = _finished(stack, _submit(stack, {"type": "python", "entrypoint": "tests.integration.jobs_for_tests:fail",
                                               "args": ["no luck"]}))
    assert failing["status"] == "failed" and failing["last_error"].startswith("ValueError: no luck")
    # a module the worker was not told to allow fails before anything is imported, naming how to allow it
    refused = _finished(stack, _submit(stack, {"type": "python", "entrypoint": "os:getcwd"}))
    assert refused["status"] == "failed" and refused["last_error"].startswith(
        "entrypoint 'os:getcwd' is not allowed on this worker (it allows builtins, tests.integration.jobs_for_tests;")


def test_an_inline_python_job_runs_in_the_worker_with_its_output_logged_and_its_timeout_honoured(
        stack: httpx.Client) -> None:
    task = {"type": "python", "entrypoint": "tests.integration.jobs_for_tests:shout", "args": ["inline"],
            "isolation": "inline"}
    job = _finished(stack, _submit(stack, task))
    assert job["status"] == "completed" and job["result_json"] == '"INLINE"', job
    chunks = poll(lambda: _complete_log(stack, job["execution_id"]), 30, "the eof marker")
    assert "".join(c["data"] for c in chunks if c["stream"] == "stdout") == "inline 0\ninline 1\ninline 2\n"
    assert stack.get(f"/v1/executions/{job['execution_id']}").json()["log_records"] == len(chunks)
    # a function that prints nothing writes no log record at all, and its log reads complete and empty
    silent = _finished(stack, _submit(stack, {"type": "python", "entrypoint": "builtins:abs", "args": [-3],
                                              "isolation": "inline"}))
    assert silent["status"] == "completed" and silent["result_json"] == "3", silent
    page = poll(lambda: (p := _logs(stack, silent["execution_id"]))["complete"] and p, 30, "a complete, empty log")
    assert page["items"] == [] and page["finished"]
    assert stack.get(f"/v1/executions/{silent['execution_id']}").json()["log_records"] == 0
    # a Python loop past its timeout is stopped; limits are refused at submission, naming the field
    spinning = _submit(stack, {"type": "python", "entrypoint": "tests.integration.jobs_for_tests:spin",
                               "args": [120], "isolation": "inline"}, timeout_s=1)
    stopped = _finished(stack, spinning)
    assert stopped["status"] == "failed" and stopped["last_error"] == "timed out after 1.0s", stopped
    refused = stack.post("/v1/jobs", json={"name": "x", "task": {**task, "memory_limit_mb": 64}})
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "task.isolation"


def test_the_logs_of_10000_lines_can_be_followed_and_read_afterwards(
        stack: httpx.Client, test_settings: Settings, tmp_path: Path) -> None:
    # Given a job that prints half its lines, waits for our signal, then prints the rest
    release = tmp_path / "release"
    half = LINES // 2
    script = (f'i=1; while [ $i -le {half} ]; do echo "line $i"; i=$((i+1)); done; '
              f'while [ ! -e {release} ]; do sleep 0.05; done; '
              f'while [ $i -le {LINES} ]; do echo "line $i"; i=$((i+1)); done')
    job_id = _submit(stack, {"type": "shell", "argv": ["sh", "-c", script]}, name="chatty")
    running = poll(lambda: (j := stack.get(f"/v1/jobs/{job_id}").json())["execution_id"] and
                    j["status"] in {"assigned", "running"} and j, 60, "the job to start")
    execution_id = running["execution_id"]
    follower = subprocess.Popen([sys.executable, "-m", "jobstream", "logs", "-f", execution_id,
                                 "--api-url", str(stack.base_url)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env={**test_settings.as_env(), "PATH": "/usr/bin:/bin"})
    try:
        # When the first half is printed, it is readable through the API while the job still runs
        def first_half() -> list[dict[str, Any]] | None:
            chunks, _ = _read_all(stack, execution_id)
            return chunks if f"line {half}\n" in "".join(c["data"] for c in chunks) else None
        chunks = poll(first_half, 60, "the first half of the lines in the logs")
        page = _logs(stack, execution_id, chunks[-1]["seq"])
        assert not page["complete"] and not page["finished"] and page["status"] in {"assigned", "running"}
        assert stack.get(f"/v1/jobs/{job_id}").json()["status"] in {"assigned", "running"}
        release.touch()

        # Then, once it is done, all 10,000 lines are there, in order, and the log is complete
        assert _finished(stack, job_id)["status"] == "completed"
        def to_eof() -> list[dict[str, Any]] | None:
            read, complete = _read_all(stack, execution_id)
            return read if complete else None
        chunks = poll(to_eof, 60, "the eof marker")
        assert [c["seq"] for c in chunks] == list(range(1, len(chunks) + 1))
        text = "".join(c["data"] for c in chunks if c["stream"] == "stdout")
        assert text.splitlines() == [f"line {n}" for n in range(1, LINES + 1)]
        assert len(chunks) > 2  # streamed in several chunks, not in one piece at the end

        # And the follower that started while it ran printed every line and stopped by itself
        out, err = follower.communicate(timeout=60)
        assert follower.returncode == 0, err.decode()
        assert out.decode().splitlines() == [f"line {n}" for n in range(1, LINES + 1)]
    finally:
        release.touch()
        if follower.poll() is None:
            follower.kill()
            follower.wait(5)

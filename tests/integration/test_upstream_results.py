"""Results along DAG edges on the real stack: a chain A -> B -> C, where B is a Python function that
asks for its upstreams' results, C a shell job that reads them from the file JOBSTREAM_UPSTREAM_RESULTS
names, and D an inline Python function after B."""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.integration.harness import wait_terminal

JOBS = "tests.integration.jobs_for_tests"


def python(ref: str, function: str, args: list[Any], after: str | None = None, **task: Any) -> dict[str, Any]:
    job = {"ref": ref, "name": ref, "task": {"type": "python", "entrypoint": f"{JOBS}:{function}", "args": args,
                                             **task}}
    return {**job, "depends_on": [{"ref": after}]} if after else job


def test_a_chain_hands_each_result_to_its_dependent(stack: httpx.Client) -> None:
    # Given a chain submitted in one batch: A returns a greeting, B relays what it got, C prints its file
    cat = {"type": "shell", "argv": ["sh", "-c", 'cat "$JOBSTREAM_UPSTREAM_RESULTS"']}
    jobs = [python("a", "greet", ["chain"]), python("b", "relay", ["b"], after="a"),
            {"ref": "c", "name": "c", "task": cat, "depends_on": [{"ref": "b"}]},
            python("d", "relay", ["d"], after="b", isolation="inline")]
    response = stack.post("/v1/jobs:batch", json={"jobs": jobs})
    assert response.status_code == 202, response.text
    ids = response.json()["refs"]

    # When they all run
    done = wait_terminal(stack, list(ids.values()), timeout_s=180)

    # Then each dependent saw its upstream's result: B and D as the keyword argument, C as a file
    assert {ref: done[job_id]["status"] for ref, job_id in ids.items()} == dict.fromkeys("abcd", "completed")
    a_result = json.loads(done[ids["a"]]["result_json"])
    b_result = json.loads(done[ids["b"]]["result_json"])
    assert a_result["greeting"] == "hello chain!"
    assert b_result == {"seen": {ids["a"]: a_result}, "suffix": "b"}
    assert json.loads(done[ids["d"]]["result_json"]) == {"seen": {ids["b"]: b_result}, "suffix": "d"}
    execution = stack.get(f"/v1/executions/{ids['c']}.1").json()
    assert json.loads(execution["stdout_tail"]) == {ids["b"]: b_result}, execution

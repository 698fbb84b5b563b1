"""A worker runs the Python entrypoints its --allow-module patterns allow, and fails the others
before importing anything (child process or inline)."""

from __future__ import annotations

import json

import pytest

from jobstream.schemas import Outcome, PythonTask
from jobstream.worker.allowlist import ANY_MODULE, refused_entrypoint
from jobstream.worker.executors import ExecutorOptions
from tests.unit.test_executors import JOBS, run


def test_patterns_match_the_entrypoints_module() -> None:
    assert refused_entrypoint("mypkg.tasks:run", ("mypkg.*",)) is None
    assert refused_entrypoint("os:system", ("mypkg.*",)) == (
        "entrypoint 'os:system' is not allowed on this worker (its --allow-module: mypkg.*)")
    assert refused_entrypoint("mypkg:run", ("mypkg.*",)) is not None  # the package itself needs its own pattern
    assert refused_entrypoint("os:system", ANY_MODULE) is None


@pytest.mark.parametrize("isolation", ["process", "inline"])
def test_a_refused_entrypoint_fails_the_execution_without_running(isolation: str) -> None:
    task = PythonTask(entrypoint=f"{JOBS}:shout", args_json=json.dumps(["hey"]), isolation=isolation)
    result, pieces, started = run(task, ExecutorOptions(allowed_modules=("mypkg.*",)))
    assert result.outcome == Outcome.FAILED and "not allowed on this worker" in (result.error or "")
    assert "hey" not in "".join(p.data for p in pieces) and started == [None]
    allowed, _, _ = run(task, ExecutorOptions(allowed_modules=("tests.integration.*",)))
    assert allowed.outcome == Outcome.SUCCEEDED

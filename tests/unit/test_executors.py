"""The executors: shell argv and limits, the python runner and executor, the HTTP result, dispatch by type."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from jobstream.schemas import HttpTask, Outcome, PythonTask, ShellTask
from jobstream.worker import python_runner
from jobstream.worker.executors import ExecutionOutput, ExecutionResult, ExecutorOptions, Piece, RunContext, run_task
from jobstream.worker.executors.base import StopSignal
from jobstream.worker.executors.child import describe_exit
from jobstream.worker.executors.http import body_value, read_bounded, status_ok, summary
from jobstream.worker.executors.python import task_document
from jobstream.worker.executors.shell import shell_argv
from jobstream.worker.limits import limit_argv, parse_args

JOBS = "tests.integration.jobs_for_tests"
# The modules these tests' Python tasks name, allowed as a worker's --allow-module would (allowlist.py).
ALLOWED = (JOBS, "no_such_module", "m")


def run(task: Any, options: ExecutorOptions | None = None, timeout_s: float | None = None,
        cancel_after_s: float | None = None) -> tuple[ExecutionResult, list[Piece], list[int | None]]:
    pieces: list[Piece] = []
    started: list[int | None] = []

    async def main() -> ExecutionResult:
        cancelled = StopSignal()
        if cancel_after_s is not None:
            asyncio.get_running_loop().call_later(cancel_after_s, cancelled.set)
        opts = options or ExecutorOptions(allowed_modules=ALLOWED)
        ctx = RunContext(timeout_s, cancelled, ExecutionOutput(pieces.append, options=opts.output),
                         on_started=started.append, env={"JOBSTREAM_EXECUTION_ID": "e-1"}, options=opts)
        return await run_task(task, ctx, "e-1")

    return asyncio.run(main()), pieces, started


# ---------------------------------------------------------------- shell
def test_argv_is_execed_as_given_and_the_shell_only_when_asked() -> None:
    assert shell_argv(ShellTask(argv=["echo", "$HOME"])) == ["echo", "$HOME"]
    assert shell_argv(ShellTask(argv=["echo $HOME | wc"], shell=True)) == ["/bin/sh", "-c", "echo $HOME | wc"]
    with pytest.raises(ValueError, match="exactly one"):
        shell_argv(ShellTask(argv=["echo", "hi"], shell=True))
    with pytest.raises(ValueError, match="empty"):
        shell_argv(ShellTask(argv=[]))


def test_limits_wrap_the_argv_only_when_set() -> None:
    assert limit_argv(["true"], None, None) == ["true"]
    assert limit_argv(["true"], 256, 3, python="py") == [
        "py", "-m", "jobstream.worker.limits", "--memory-mb", "256", "--cpu-s", "3", "--", "true"]
    assert parse_args(["--cpu-s", "3", "--", "sleep", "1"]) == (None, 3, ["sleep", "1"])
    with pytest.raises(ValueError):
        parse_args(["--nope", "1", "--", "true"])


def test_a_shell_job_streams_its_output_and_ends_with_eof() -> None:
    result, pieces, started = run(ShellTask(argv=["sh", "-c", "echo out; echo err >&2; echo $JOBSTREAM_EXECUTION_ID"]))
    assert result.outcome == Outcome.SUCCEEDED and started and started[0]
    assert "".join(p.data for p in pieces if p.stream == "stdout") == "out\ne-1\n"
    assert [p.data for p in pieces if p.stream == "stderr"] == ["err\n"] and pieces[-1].eof


def test_an_invalid_shell_task_fails_without_running() -> None:
    result, _, started = run(ShellTask(argv=["a", "b"], shell=True))
    assert result.outcome == Outcome.FAILED and "exactly one" in (result.error or "") and started == [None]


def test_the_cpu_limit_stops_a_busy_loop() -> None:
    result, _, _ = run(ShellTask(argv=[sys.executable, "-c", "while True: pass"], cpu_limit_s=1), timeout_s=30)
    assert result.outcome == Outcome.FAILED and "SIGXCPU" in (result.error or "")


def test_the_memory_limit_refuses_a_large_allocation() -> None:
    code = "x = bytearray(400 * 1024 * 1024)"
    result, _, _ = run(ShellTask(argv=[sys.executable, "-c", code], memory_limit_mb=200))
    assert result.outcome == Outcome.FAILED and "MemoryError" in result.stderr_tail


def test_signals_are_described() -> None:
    assert describe_exit(0) is None and describe_exit(3) is None
    assert describe_exit(-24) == "killed by SIGXCPU (CPU time limit)"


# ---------------------------------------------------------------- python
def test_the_runner_calls_the_entrypoint_and_writes_json(tmp_path: Path) -> None:
    assert python_runner.call(f"{JOBS}:greet", ["ada"], {"punctuation": "?"}) == json.dumps(
        {"greeting": "hello ada?", "execution_id": None})
    assert python_runner.call(f"{JOBS}:double", [21], {}) == "42"
    with pytest.raises(ValueError, match="package.module:function"):
        python_runner.load_entrypoint("no_colon")
    task = tmp_path / "task.json"
    document = {"entrypoint": f"{JOBS}:fail", "args": ["boom"], "kwargs": {}, "allowed_modules": [JOBS]}
    task.write_text(json.dumps(document))
    assert python_runner.run(task, tmp_path / "r", tmp_path / "e") == 1
    error = json.loads((tmp_path / "e").read_text())
    assert error["error"] == "ValueError: boom" and "Traceback" in error["traceback"]


def test_a_child_imports_asyncio_only_for_a_coroutine_function() -> None:
    """Importing asyncio was about half a python job's start-up (27 of 55 ms), which a plain function never needs."""
    probe = ("import sys; from jobstream.worker import python_runner as runner; "
             "print(runner.call(sys.argv[1], [-21], {}), 'asyncio' in sys.modules)")

    def child(entrypoint: str) -> str:
        return subprocess.run([sys.executable, "-c", probe, entrypoint], capture_output=True, text=True, check=True,
                              cwd=Path(__file__).parents[2]).stdout.strip()

    assert child("builtins:abs") == "21 False"
    assert child(f"{JOBS}:double") == "-42 True"


def test_a_python_job_returns_its_json_result() -> None:
    task = PythonTask(entrypoint=f"{JOBS}:greet", args_json='["ada"]', kwargs_json="{}")
    result, pieces, started = run(task)
    assert result.outcome == Outcome.SUCCEEDED, result
    assert json.loads(result.result_json or "") == {"greeting": "hello ada!", "execution_id": "e-1"}
    assert "greeting ada" in "".join(p.data for p in pieces) and started[0]


def test_a_python_exception_fails_with_the_traceback_tail() -> None:
    result, _, _ = run(PythonTask(entrypoint=f"{JOBS}:fail", args_json='["boom"]'))
    assert result.outcome == Outcome.FAILED and result.result_json is None
    error = result.error or ""
    assert error.startswith("ValueError: boom\nTraceback") and "jobs_for_tests.py" in error
    assert "ValueError: boom" in result.stderr_tail


def test_python_results_that_are_not_json_or_not_importable_fail() -> None:
    result, _, _ = run(PythonTask(entrypoint=f"{JOBS}:not_json"))
    assert result.outcome == Outcome.FAILED and "not JSON serializable" in (result.error or "")
    result, _, _ = run(PythonTask(entrypoint="no_such_module:f"))
    assert result.outcome == Outcome.FAILED and "ModuleNotFoundError" in (result.error or "")


def test_a_large_python_result_goes_to_the_log_with_a_reference() -> None:
    options = ExecutorOptions(inline_result_bytes=1000, allowed_modules=ALLOWED)
    result, pieces, _ = run(PythonTask(entrypoint=f"{JOBS}:big", args_json="[50000]"), options)
    assert json.loads(result.result_json or "") == {"ref": "logs", "execution_id": "e-1", "stream": "result",
                                                    "bytes": 50002}
    assert "".join(p.data for p in pieces if p.stream == "result") == json.dumps("x" * 50000)
    too_big = ExecutorOptions(inline_result_bytes=1000, max_result_bytes=20000, allowed_modules=ALLOWED)
    result, _, _ = run(PythonTask(entrypoint=f"{JOBS}:big", args_json="[50000]"), too_big)
    assert result.outcome == Outcome.FAILED and "over the limit" in (result.error or "")


def test_python_progress_reaches_the_output() -> None:
    result, pieces, _ = run(PythonTask(entrypoint=f"{JOBS}:with_progress", args_json="[4]"))
    assert result.result_json == "4"
    assert "##jobstream[progress] 100 step 4 of 4" in "".join(p.data for p in pieces)


def test_python_timeout_and_cancel_stop_the_child(tmp_path: Path) -> None:
    never = json.dumps([str(tmp_path / "never")])
    result, _, _ = run(PythonTask(entrypoint=f"{JOBS}:wait_for_file", args_json=never), timeout_s=1.0)
    assert result.outcome == Outcome.TIMED_OUT
    result, _, _ = run(PythonTask(entrypoint=f"{JOBS}:wait_for_file", args_json=never), cancel_after_s=0.5)
    assert result.outcome == Outcome.CANCELLED


def test_python_arguments_must_be_an_array_and_an_object() -> None:
    with pytest.raises(ValueError):
        task_document(PythonTask(entrypoint="m:f", args_json="{}"))
    result, _, _ = run(PythonTask(entrypoint="m:f", kwargs_json="[]"))
    assert result.outcome == Outcome.FAILED and "invalid task" in (result.error or "")


# ---------------------------------------------------------------- http
def test_expected_statuses() -> None:
    assert status_ok(204, []) and not status_ok(301, []) and not status_ok(500, [])
    assert status_ok(404, [404, 410]) and not status_ok(200, [404])


def test_http_body_is_json_when_complete_json_else_text() -> None:
    assert body_value(b'{"a": 1}', "application/json; charset=utf-8", False) == {"a": 1}
    assert body_value(b'{"a": 1', "application/json", True) == '{"a": 1'
    assert body_value(b'{"a": NaN}', "application/json", False) == '{"a": NaN}'
    assert body_value(b"<p>hi</p>", "text/html", False) == "<p>hi</p>"
    headers = httpx.Headers({"content-type": "text/plain", "x-secret": "s"})
    assert summary(200, headers, b"abc", 10) == {"status": 200, "headers": {"content-type": "text/plain"},
                                                  "body": "abc", "body_bytes": 10, "truncated": True}


def test_http_body_is_read_bounded() -> None:
    async def main() -> tuple[bytes, int]:
        transport = httpx.MockTransport(lambda request: httpx.Response(200, content=b"y" * 100_000))
        async with httpx.AsyncClient(transport=transport) as client:
            async with client.stream("GET", "http://test/") as response:
                return await read_bounded(response, 1000)
    assert asyncio.run(main()) == (b"y" * 1000, 100_000)


def test_an_unreachable_http_endpoint_fails_with_the_reason() -> None:
    result, pieces, started = run(HttpTask(url="http://127.0.0.1:9/", timeout_s=5))
    assert result.outcome == Outcome.FAILED and "ConnectError" in (result.error or "") and started == [None]
    assert "ConnectError" in "".join(p.data for p in pieces if p.stream == "stderr")


def test_a_job_ends_when_its_process_exits_even_if_a_leftover_keeps_its_output_open() -> None:
    import time

    # The job exits at once; a background child in its group keeps stdout open for 30 s.
    started_at = time.monotonic()
    result, pieces, _ = run(ShellTask(argv=["sh", "-c", "sleep 30 & echo done"]), timeout_s=20)
    assert result.outcome == Outcome.SUCCEEDED and result.exit_code == 0
    assert "done" in "".join(p.data for p in pieces if p.stream == "stdout")
    assert time.monotonic() - started_at < 15, "the leftover held the job"


def test_a_timeout_holds_even_when_an_escaped_descendant_keeps_the_output_open() -> None:
    import time

    # setsid: the descendant leaves the job's process group, so killing the group misses it.
    started_at = time.monotonic()
    result, _, _ = run(ShellTask(argv=["sh", "-c", "setsid sleep 30 & sleep 30"]), timeout_s=1,
                       options=ExecutorOptions(kill_grace_s=0.5, allowed_modules=ALLOWED))
    assert result.outcome == Outcome.TIMED_OUT
    assert time.monotonic() - started_at < 10, "the escaped descendant held the timeout"


def test_the_worker_s_own_settings_are_not_in_a_job_s_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOBSTREAM_DATABASE_URL", "postgresql://user:secret@db/jobstream")
    echo = "echo ${JOBSTREAM_DATABASE_URL:-none} $JOBSTREAM_EXECUTION_ID"
    result, pieces, _ = run(ShellTask(argv=["sh", "-c", echo]))
    assert "".join(p.data for p in pieces if p.stream == "stdout") == "none e-1\n"

"""Inline Python tasks: the function in the worker's own process, its output routed to its log,
timeouts and cancels honoured as far as Python allows."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from jobstream.core.validation import validate_spec
from jobstream.schemas import JobSpec, Outcome, PythonTask
from jobstream.streams import metrics
from jobstream.worker.executors import ExecutionOutput, ExecutionResult, ExecutorOptions, Piece, RunContext, run_task
from jobstream.worker.executors import inline as inline_module
from jobstream.worker.executors.base import StopSignal
from jobstream.worker.executors.inline import InlineStopped, _Run
from tests.unit.test_executors import ALLOWED, JOBS, run


def inline(entrypoint: str, *args: object) -> PythonTask:
    return PythonTask(entrypoint=f"{JOBS}:{entrypoint}", args_json=json.dumps(list(args)), isolation="inline")


def text(pieces: list[Piece], stream: str) -> str:
    return "".join(p.data for p in pieces if p.stream == stream)


def test_an_inline_function_returns_its_json_result_and_its_output_goes_to_its_log() -> None:
    result, pieces, started = run(inline("shout", "hey"))
    assert result.outcome == Outcome.SUCCEEDED and json.loads(result.result_json or "") == "HEY"
    assert text(pieces, "stdout") == "hey 0\nhey 1\nhey 2\n" and text(pieces, "stderr") == "hey on stderr\n"
    assert started == [None] and pieces[-1].eof


def test_a_coroutine_function_runs_on_the_loop() -> None:
    result, _, _ = run(inline("double", 21))
    assert result.outcome == Outcome.SUCCEEDED and result.result_json == "42"


def test_an_inline_exception_fails_with_its_traceback() -> None:
    result, pieces, _ = run(inline("fail", "boom"))
    assert result.outcome == Outcome.FAILED and (result.error or "").startswith("ValueError: boom\nTraceback")
    assert "ValueError: boom" in text(pieces, "stderr")
    result, _, _ = run(PythonTask(entrypoint="no_such_module:f", isolation="inline"))
    assert result.outcome == Outcome.FAILED and "ModuleNotFoundError" in (result.error or "")


def test_a_python_loop_is_stopped_at_its_timeout() -> None:
    started = time.monotonic()
    result, _, _ = run(inline("spin", 60), timeout_s=0.3)
    assert result.outcome == Outcome.TIMED_OUT and result.error == "timed out after 0.3s"
    assert time.monotonic() - started < 10  # stopped by the exception raised in its thread, not after 60 s


def test_what_a_running_function_prints_reaches_its_log_before_it_ends(tmp_path: Path) -> None:
    release = tmp_path / "release"
    pieces: list[Piece] = []

    async def main() -> ExecutionResult:
        flushed = asyncio.Event()

        def sink(piece: Piece) -> None:
            pieces.append(piece)
            flushed.set()

        options = ExecutorOptions(allowed_modules=ALLOWED)
        ctx = RunContext(None, StopSignal(), ExecutionOutput(sink, options=options.output), options=options)
        running = asyncio.ensure_future(run_task(inline("wait_for_file", str(release), 30), ctx, "e-1"))
        await asyncio.wait_for(flushed.wait(), 20)  # the output is flushed ~0.15 s after it is written
        assert text(pieces, "stdout") == "waiting\n" and not running.done(), pieces  # while it runs
        release.touch()
        return await running

    result = asyncio.run(main())
    assert result.outcome == Outcome.SUCCEEDED and result.result_json == '"released"'


def test_output_written_after_the_run_was_given_up_arms_no_timer() -> None:
    async def main() -> bool:
        flusher = inline_module._Flusher(ExecutionOutput(lambda piece: None))
        flusher.stop()  # a function that printed nothing while it ran, then outlived its stop
        flusher.feed("stdout", b"an orphan's line\n")
        return flusher.timer is None

    assert asyncio.run(main())  # else a timer would tick for ever for an execution long reported


def inline_threads() -> int:
    return sum(thread.name == "inline-task" for thread in threading.enumerate())


def test_plain_functions_reuse_the_pool_threads() -> None:
    before = inline_threads()
    for n in range(10):
        result, _, _ = run(inline("shout", str(n), 1))
        assert result.outcome == Outcome.SUCCEEDED
    assert inline_threads() - before <= 2  # not one per execution


def test_a_stop_sent_after_the_function_returned_does_not_reach_the_next_one() -> None:
    async def late_stop() -> None:
        ended = _Run(len, [[1, 2]], {})
        await ended.finished
        ended.stop()  # the timeout fired as the function returned: its thread is the pool's again
        for _ in range(3):
            follower = _Run(sum, [list(range(100_000))], {})
            await follower.finished
            assert follower.error is None and follower.value == sum(range(100_000))

    asyncio.run(late_stop())


def test_a_stop_that_comes_before_a_thread_takes_the_call_keeps_the_function_from_running(
        monkeypatch: pytest.MonkeyPatch) -> None:
    waiting: list[Callable[[], object]] = []
    monkeypatch.setattr(inline_module._threads, "run", waiting.append)  # no thread has taken it yet
    ran: list[int] = []

    async def stopped_early() -> None:
        early = _Run(ran.append, [1], {})
        early.stop()
        threading.Thread(target=waiting.pop()).start()
        await early.finished
        assert isinstance(early.error, InlineStopped)

    asyncio.run(stopped_early())
    assert ran == []


def test_a_coroutine_is_cancelled() -> None:
    result, _, _ = run(inline("snooze", 60), cancel_after_s=0.2)
    assert result.outcome == Outcome.CANCELLED


def test_a_function_blocked_in_c_is_reported_stopped_after_the_grace_and_counted() -> None:
    orphans = metrics.INLINE_ORPHANS._value.get()
    result, _, _ = run(inline("nap", 3), ExecutorOptions(kill_grace_s=0.2, allowed_modules=ALLOWED), timeout_s=0.2)
    assert result.outcome == Outcome.TIMED_OUT
    assert metrics.INLINE_ORPHANS._value.get() == orphans + 1


def test_inline_executions_side_by_side_keep_their_output_apart() -> None:
    logs: dict[str, list[Piece]] = {"a": [], "b": []}

    async def both() -> list[ExecutionResult]:
        async def one(name: str) -> ExecutionResult:
            options = ExecutorOptions(allowed_modules=ALLOWED)
            ctx = RunContext(None, StopSignal(), ExecutionOutput(logs[name].append, options=options.output),
                             options=options)
            return await run_task(inline("shout", name, 200), ctx, f"e-{name}")
        return list(await asyncio.gather(one("a"), one("b")))

    results = asyncio.run(both())
    assert [r.outcome for r in results] == [Outcome.SUCCEEDED] * 2
    for name, pieces in logs.items():
        lines = text(pieces, "stdout").splitlines()
        assert lines == [f"{name} {n}" for n in range(200)]


def test_limits_cannot_be_asked_of_an_inline_task() -> None:
    task = PythonTask(entrypoint="m:f", isolation="inline", memory_limit_mb=100)
    assert [field for field, _ in validate_spec(JobSpec(name="n", task=task))] == ["task.isolation"]
    task = PythonTask(entrypoint="m:f", isolation="elsewhere")
    assert [field for field, _ in validate_spec(JobSpec(name="n", task=task))] == ["task.isolation"]

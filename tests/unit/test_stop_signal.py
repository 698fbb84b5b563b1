"""Waiting for a run to end or be stopped: ``ended_in_time`` over a ``StopSignal``, without a task of its own."""

from __future__ import annotations

import asyncio

from jobstream.worker.executors.base import RunContext, StopSignal, ended_in_time
from jobstream.worker.executors.output import ExecutionOutput


def context(timeout_s: float | None, stop: StopSignal) -> RunContext:
    return RunContext(timeout_s, stop, ExecutionOutput(lambda piece: None))


def wait(ends_after_s: float | None, timeout_s: float | None = None, stop_after_s: float | None = None,
         stopped_before: bool = False) -> tuple[bool, int]:
    """Whether the run ended in time, and the callbacks left on its signal afterwards."""
    async def main() -> tuple[bool, int]:
        loop, stop = asyncio.get_running_loop(), StopSignal()
        if stopped_before:
            stop.set()
        ending: asyncio.Future[None] = loop.create_future()
        if ends_after_s is not None:
            loop.call_later(ends_after_s, ending.set_result, None)
        if stop_after_s is not None:
            loop.call_later(stop_after_s, stop.set)
        ended = await asyncio.wait_for(ended_in_time(ending, context(timeout_s, stop)), 10)
        return ended, len(stop._callbacks)

    return asyncio.run(main())


def test_a_run_that_ends_first_ended_in_time() -> None:
    assert wait(0.0, timeout_s=5, stop_after_s=5) == (True, 0)
    assert wait(0.0) == (True, 0)  # no timeout, never stopped


def test_a_timeout_or_a_stop_that_comes_first_ends_the_wait_without_the_run() -> None:
    assert wait(None, timeout_s=0.01) == (False, 0)
    assert wait(None, stop_after_s=0.01) == (False, 0)
    assert wait(None, stopped_before=True) == (False, 0)


def test_a_stop_calls_back_once_and_a_removed_callback_not_at_all() -> None:
    stop, calls = StopSignal(), []
    stop.add_callback(lambda: calls.append("kept"))
    removed = lambda: calls.append("removed")  # noqa: E731
    stop.add_callback(removed)
    stop.remove_callback(removed)
    stop.set()
    stop.set()
    stop.add_callback(lambda: calls.append("late"))  # already set: at once
    assert calls == ["kept", "late"] and stop.is_set()

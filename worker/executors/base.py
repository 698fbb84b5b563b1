"""What every executor takes and returns: options, the run context, the result."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from jobstream.config import Settings
from jobstream.schemas import Outcome
from jobstream.worker.executors.output import ExecutionOutput, OutputOptions

MIB = 1024 * 1024


@dataclass(frozen=True)
class ExecutorOptions:
    """Bounds and timings shared by the executors (one set per worker)."""

    output: OutputOptions = field(default_factory=OutputOptions)
    inline_result_bytes: int = 64 * 1024  # larger results go to the logs topic, referenced
    max_result_bytes: int = 10 * MIB  # larger results fail the execution
    http_body_bytes: int = 32 * 1024  # of a response body kept in the result
    http_timeout_s: float = 60.0  # when neither the task nor the job sets one
    kill_grace_s: float = 5.0  # SIGTERM to SIGKILL on timeout or cancel
    python_path: tuple[str, ...] = ()  # where Python tasks import from, first (the worker's --python-path)
    allowed_modules: tuple[str, ...] = ()  # module patterns Python tasks may call into (allowlist.py); none

    @classmethod
    def from_settings(cls, settings: Settings, python_path: tuple[str, ...] = (),
                      allowed_modules: tuple[str, ...] = ()) -> ExecutorOptions:
        """Defaults, with the settings' bound on each execution's streamed output (log_max_bytes)."""
        return cls(output=OutputOptions(max_bytes=settings.log_max_bytes), python_path=python_path,
                   allowed_modules=allowed_modules)


class StopSignal(asyncio.Event):
    """An execution's stop: its cancel, or its worker going down. An Event that also calls back when
    set, so that waiting for "ended, or stopped" costs a callback per run, not a task (a quick inline
    run's wait had cost three tasks)."""

    def __init__(self) -> None:
        super().__init__()
        self._callbacks: list[Callable[[], None]] = []

    def set(self) -> None:
        super().set()
        callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            callback()

    def add_callback(self, callback: Callable[[], None]) -> None:
        """``callback`` when the signal is set (at once if it is)."""
        if self.is_set():
            callback()
        else:
            self._callbacks.append(callback)

    def remove_callback(self, callback: Callable[[], None]) -> None:
        if callback in self._callbacks:
            self._callbacks.remove(callback)


async def ended_in_time(ending: asyncio.Future[Any], ctx: RunContext) -> bool:
    """Whether ``ending`` completed before the run's timeout or its cancel (the caller then stops
    what runs, and reports ``stopped_outcome``)."""
    loop = asyncio.get_running_loop()
    woken: asyncio.Future[None] = loop.create_future()

    def wake(*_: object) -> None:
        if not woken.done():
            woken.set_result(None)

    ending.add_done_callback(wake)
    ctx.cancelled.add_callback(wake)
    timer = None if ctx.timeout_s is None else loop.call_later(ctx.timeout_s, wake)
    try:
        await woken
    finally:
        ending.remove_done_callback(wake)
        ctx.cancelled.remove_callback(wake)
        if timer is not None:
            timer.cancel()
    return ending.done()


def stopped_outcome(ctx: RunContext) -> Outcome:
    return Outcome.CANCELLED if ctx.cancelled.is_set() else Outcome.TIMED_OUT


@dataclass(frozen=True)
class ExecutionResult:
    outcome: Outcome
    exit_code: int | None
    stdout_tail: str
    stderr_tail: str
    duration_ms: int
    error: str | None = None
    result_json: str | None = None
    log_records: int | None = None  # what the execution wrote on the logs topic; None: not known


@dataclass
class RunContext:
    """One execution's surroundings: its limits in time, its stop signal, where its output goes."""

    timeout_s: float | None
    cancelled: StopSignal
    output: ExecutionOutput
    on_started: Callable[[int | None], None] = lambda pid: None  # pid of the child, None if there is none
    env: dict[str, str] = field(default_factory=dict)  # added to every child's environment
    upstream_results: dict[str, Any] = field(default_factory=dict)  # upstream job_id -> its result, parsed
    options: ExecutorOptions = field(default_factory=ExecutorOptions)

    def result(self, outcome: Outcome, exit_code: int | None, duration_ms: int, error: str | None = None,
               result_json: str | None = None) -> ExecutionResult:
        """A result carrying the tails of the output so far."""
        tails = self.output.tails
        return ExecutionResult(outcome, exit_code, tails["stdout"].text(), tails["stderr"].text(), duration_ms,
                               error, result_json)

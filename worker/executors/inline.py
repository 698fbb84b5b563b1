"""Python tasks with ``"isolation": "inline"``: the function runs in the worker's own process.

No process starts, which is most of what a short process job costs, so an inline no-op is many
times cheaper. The price, said plainly:
- no memory or cpu limit (refused at submission), and the function shares the worker's memory;
- a coroutine function runs on the worker's event loop: timeout and cancel cancel it (it sees
  ``CancelledError`` at its next ``await``); one that blocks the loop blocks the worker;
- a plain function runs in a thread of the worker's inline pool: timeout and cancel raise
  ``InlineStopped`` in that thread, which Python delivers at its next bytecode. A function
  blocked in C (``time.sleep``, a socket read, a long numpy call) is interrupted only when that
  call returns. If it has not ended ``kill_grace_s`` after the stop, the execution is reported as
  stopped all the same and the thread is left to finish (logged; counted in ``jobstream_worker_inline_orphans_total``).
Output: ``print`` and writes to ``sys.stdout``/``sys.stderr`` from the function go to the
execution's log, as a child's output does (routed by a context variable, so several inline
executions at once keep their output apart).
"""

from __future__ import annotations

import asyncio
import contextvars
import ctypes
import inspect
import io
import json
import logging
import queue
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, TextIO

from jobstream.schemas import Outcome, PythonTask
from jobstream.streams import metrics
from jobstream.worker.allowlist import refused_entrypoint
from jobstream.worker.executors.base import ExecutionResult, RunContext, ended_in_time, stopped_outcome
from jobstream.worker.executors.output import ExecutionOutput
from jobstream.worker.python_runner import describe, load_entrypoint
from jobstream.worker.upstream_results import with_upstream_results

log = logging.getLogger(__name__)
TICK_S = 0.1  # the output's flush interval, as for a child's

_output: contextvars.ContextVar[_Flusher | None] = contextvars.ContextVar("jobstream_inline_output", default=None)


class InlineStopped(Exception):
    """Raised inside an inline function's thread when its execution times out or is cancelled."""


class _Routed(io.TextIOBase):
    """``sys.stdout``/``sys.stderr`` while inline functions run: a write goes to the log of the
    execution whose context it happens in, anything else to the stream it replaced."""

    def __init__(self, name: str, fallback: TextIO) -> None:
        super().__init__()
        self.name_, self.fallback = name, fallback

    def write(self, text: str) -> int:
        target = _output.get()
        if target is None:
            return self.fallback.write(text)
        # The execution's output belongs to the event loop: hand the bytes over
        _hand_over(target.loop, target.feed, self.name_, text.encode(errors="replace"))
        return len(text)

    def flush(self) -> None:
        if _output.get() is None:
            self.fallback.flush()

    def fileno(self) -> int:
        return self.fallback.fileno()

    def writable(self) -> bool:
        return True


def _hand_over(loop: asyncio.AbstractEventLoop, callback: Callable[..., Any], *args: Any) -> None:
    """Run ``callback`` on the loop; an orphaned thread that outlives the loop has no one to tell."""
    try:
        loop.call_soon_threadsafe(callback, *args)
    except RuntimeError:  # the loop is closed: the worker is gone, or the execution long reported
        pass


class _Flusher:
    """Feeds an execution's output on the loop, and flushes it every TICK_S once something was
    written: no timer at all for a function that prints nothing (most of them)."""

    def __init__(self, output: ExecutionOutput) -> None:
        self.loop, self.output = asyncio.get_running_loop(), output
        self.timer: asyncio.TimerHandle | None = None
        self.stopped = False  # an orphaned thread may still write: that arms nothing

    def feed(self, stream: str, data: bytes) -> None:
        self.output.feed(stream, data)
        if self.timer is None and not self.stopped:
            self.timer = self.loop.call_later(TICK_S, self._tick)

    def _tick(self) -> None:
        self.output.tick()
        self.timer = self.loop.call_later(TICK_S, self._tick)

    def stop(self) -> None:
        self.stopped = True
        if self.timer is not None:
            self.timer.cancel()


def route_standard_streams() -> None:
    """Install the routing streams once per process."""
    if not isinstance(sys.stdout, _Routed):
        sys.stdout = _Routed("stdout", sys.stdout)
    if not isinstance(sys.stderr, _Routed):
        sys.stderr = _Routed("stderr", sys.stderr)


class _Threads:
    """Daemon threads reused by plain inline functions. Starting a thread per execution took a
    quarter of a worker's CPU in ``jobstream bench e2e --kind inline`` (py-spy). Not a
    ``ThreadPoolExecutor``: its threads are joined at exit, and a function blocked in C would then
    hold the worker's exit. Threads are added while none is idle, so there are as many as the most
    executions (and orphans) there ever were at once."""

    def __init__(self) -> None:
        self.calls: queue.SimpleQueue[Callable[[], object]] = queue.SimpleQueue()
        self.lock = threading.Lock()
        self.idle = 0

    def run(self, call: Callable[[], object]) -> None:
        with self.lock:
            if self.idle:
                self.idle -= 1
            else:
                threading.Thread(target=self._serve, name="inline-task", daemon=True).start()
        self.calls.put(call)

    def _serve(self) -> None:
        while True:
            self.calls.get()()
            with self.lock:
                self.idle += 1


_threads = _Threads()


class _Run:
    """The function's call, on the loop (a coroutine function) or in a pooled thread."""

    def __init__(self, function: Callable[..., Any], args: list[Any], kwargs: dict[str, Any]) -> None:
        self.loop = asyncio.get_running_loop()
        self.finished: asyncio.Future[None] = self.loop.create_future()
        self.value: Any = None
        self.error: BaseException | None = None
        self.task: asyncio.Task[Any] | None = None
        self.lock = threading.Lock()  # a stop reaches the thread only while it runs this function
        self.thread_id: int | None = None
        self.stopped = False  # a stop that came before a thread took the call: it is not made
        if inspect.iscoroutinefunction(function):
            self.task = asyncio.create_task(function(*args, **kwargs))  # copies our context: output routed
            self.task.add_done_callback(self._task_done)
        else:
            context = contextvars.copy_context()
            _threads.run(lambda: context.run(self._call, function, args, kwargs))

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        if task.cancelled():
            self.error = asyncio.CancelledError()
        elif task.exception() is not None:
            self.error = task.exception()
        else:
            self.value = task.result()
        self._finish()

    def _finish(self) -> None:
        if not self.finished.done():  # set once, whichever way the run ended
            self.finished.set_result(None)

    def _call(self, function: Callable[..., Any], args: list[Any], kwargs: dict[str, Any]) -> None:
        try:
            try:
                with self.lock:  # inside the try: a stop may land as soon as thread_id is set
                    self.thread_id, stopped = threading.get_ident(), self.stopped
                if stopped:
                    raise InlineStopped
                value = function(*args, **kwargs)
                self.value = asyncio.run(value) if inspect.iscoroutine(value) else value
            except BaseException as error:  # noqa: BLE001 - the job's own failure, or our stop
                self.error = error
            finally:
                self._leave()
        except InlineStopped:  # the stop came as the function returned: it is not the next job's
            self._leave()
        _hand_over(self.loop, self._finish)

    def _leave(self) -> None:
        """No stop reaches this thread from now on, and one sent too late is withdrawn (only a run
        that was stopped can have one pending: the ctypes call is not made for every run)."""
        with self.lock:
            self.thread_id = None
            if self.stopped:
                _set_async_exc(threading.get_ident(), None)

    def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            return
        with self.lock:
            self.stopped = True
            if self.thread_id is not None:
                _set_async_exc(self.thread_id, InlineStopped)


def _set_async_exc(thread_id: int, exception: type[BaseException] | None) -> None:
    """Raise ``exception`` in the thread at its next bytecode; ``None`` withdraws a pending one."""
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id),
                                               None if exception is None else ctypes.py_object(exception))


async def run_inline_task(task: PythonTask, ctx: RunContext) -> ExecutionResult:
    started = time.monotonic()
    refused = refused_entrypoint(task.entrypoint, ctx.options.allowed_modules)
    if refused is not None:
        ctx.on_started(None)
        return ctx.result(Outcome.FAILED, None, 0, refused)
    try:
        args, kwargs = json.loads(task.args_json), json.loads(task.kwargs_json)
        function = load_entrypoint(task.entrypoint, ctx.options.python_path, ctx.options.allowed_modules)
    except Exception as error:  # noqa: BLE001 - a bad entrypoint fails the execution, not the worker
        ctx.on_started(None)
        return ctx.result(Outcome.FAILED, None, 0, describe(error)["error"])
    ctx.on_started(None)
    route_standard_streams()
    flusher = _Flusher(ctx.output)
    token = _output.set(flusher)
    try:
        run = _Run(function, args, with_upstream_results(function, kwargs, ctx.upstream_results))
        outcome = await _wait(run, ctx, task.entrypoint)
    finally:
        _output.reset(token)
        flusher.stop()
    await asyncio.sleep(0)  # output handed over from the thread is fed before the tails are read
    return _result(run, outcome, ctx, _ms_since(started))


async def _wait(run: _Run, ctx: RunContext, entrypoint: str) -> Outcome:
    if await ended_in_time(run.finished, ctx):
        return Outcome.SUCCEEDED
    run.stop()
    try:
        await asyncio.wait_for(asyncio.shield(run.finished), ctx.options.kill_grace_s)
    except TimeoutError:
        metrics.INLINE_ORPHANS.inc()
        log.warning("inline task %s did not stop within %.0f s (blocked in C code?); it keeps running in the "
                    "worker until it returns", entrypoint, ctx.options.kill_grace_s)
    return stopped_outcome(ctx)


def _result(run: _Run, outcome: Outcome, ctx: RunContext, duration_ms: int) -> ExecutionResult:
    if outcome == Outcome.TIMED_OUT:
        return ctx.result(outcome, None, duration_ms, f"timed out after {ctx.timeout_s}s")
    if outcome == Outcome.CANCELLED:
        return ctx.result(outcome, None, duration_ms, "cancelled")
    if run.error is not None:
        described = describe(run.error)
        ctx.output.feed("stderr", described["traceback"].encode(errors="replace"))
        return ctx.result(Outcome.FAILED, None, duration_ms, f"{described['error']}\n{described['traceback']}")
    try:
        text = json.dumps(run.value, allow_nan=False)
    except (TypeError, ValueError) as error:
        return ctx.result(Outcome.FAILED, None, duration_ms, f"the result is not JSON: {error}")
    if len(text) > ctx.options.max_result_bytes:
        return ctx.result(Outcome.FAILED, None, duration_ms,
                          f"the result is {len(text)} bytes, over the limit of {ctx.options.max_result_bytes}")
    return ctx.result(Outcome.SUCCEEDED, 0, duration_ms, result_json=text)


def _ms_since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)

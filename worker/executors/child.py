"""Running one child process: its own process group, output streamed, timeout and cancellation.

The child runs in a new session, so that a timeout or a cancel can signal the whole group
(SIGTERM, then SIGKILL after a grace period) and nothing it spawned outlives it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from dataclasses import dataclass
from typing import Any

from jobstream.schemas import Outcome
from jobstream.worker.executors.base import RunContext, ended_in_time, stopped_outcome
from jobstream.worker.executors.output import ExecutionOutput

TICK_S = 0.1  # how often pending output and progress are flushed while the child runs
READ_BYTES = 65536
DRAIN_GRACE_S = 2.0  # how long output may trail the child's exit before its group is killed


@dataclass(frozen=True)
class ChildExit:
    outcome: Outcome
    exit_code: int | None
    duration_ms: int
    error: str | None = None


def worker_environment() -> dict[str, str]:
    """The worker's environment without its own settings (the database URL, with its password):
    a job sees its machine's environment, not jobstream's."""
    return {name: value for name, value in os.environ.items() if not name.startswith("JOBSTREAM_")}


async def run_child(argv: list[str], env: dict[str, str], cwd: str | None, ctx: RunContext) -> ChildExit:
    """Run ``argv`` to its end, its timeout, or ``ctx.cancelled``; never raises for the child's faults."""
    started = time.monotonic()
    try:
        process = await asyncio.create_subprocess_exec(
            *argv, cwd=cwd or None, env={**worker_environment(), **ctx.env, **env},
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
    except OSError as error:
        return ChildExit(Outcome.FAILED, None, ms_since(started), f"could not start: {error}")
    ctx.on_started(process.pid)
    readers = asyncio.gather(_pump(process.stdout, "stdout", ctx.output), _pump(process.stderr, "stderr", ctx.output))
    ticker = asyncio.create_task(_tick(ctx.output))
    try:
        outcome = await _wait(process, ctx)
        await _drain(process, readers)
    except asyncio.CancelledError:  # the worker itself is going down: take the group with it
        await kill_group(process, grace_s=1.0)
        raise
    finally:
        ticker.cancel()
    code = process.returncode
    if outcome == Outcome.SUCCEEDED and code != 0:
        outcome = Outcome.FAILED
    reasons = {Outcome.TIMED_OUT: f"timed out after {ctx.timeout_s}s", Outcome.CANCELLED: "cancelled"}
    return ChildExit(outcome, code, ms_since(started), reasons.get(outcome) or describe_exit(code))


def describe_exit(code: int | None) -> str | None:
    """Why a child that exited on its own failed, when its code alone would not say."""
    if code is None or code >= 0:
        return None
    try:
        name = signal.Signals(-code).name
    except ValueError:
        name = f"signal {-code}"
    hint = {"SIGXCPU": " (CPU time limit)", "SIGKILL": " (killed; a memory or CPU limit?)"}.get(name, "")
    return f"killed by {name}{hint}"


async def exit_code(process: asyncio.subprocess.Process) -> int:
    """The child's exit code as soon as it has exited. ``process.wait()`` also waits for the
    pipes to close, which a descendant that keeps stdout open can put off for ever."""
    waiting = asyncio.ensure_future(process.wait())  # the quick path, when the pipes close with it
    try:
        delay = 0.002
        while process.returncode is None and not waiting.done():
            await asyncio.wait({waiting}, timeout=delay)
            delay = min(delay * 2, 0.05)
        assert process.returncode is not None
        return process.returncode
    finally:
        waiting.cancel()


async def _wait(process: asyncio.subprocess.Process, ctx: RunContext) -> Outcome:
    exited = asyncio.ensure_future(exit_code(process))
    if await ended_in_time(exited, ctx):
        return Outcome.SUCCEEDED
    exited.cancel()
    await kill_group(process, ctx.options.kill_grace_s)
    return stopped_outcome(ctx)


async def _drain(process: asyncio.subprocess.Process, readers: asyncio.Future[Any]) -> None:
    """Read what the child wrote. If something it left behind keeps its output open, kill what is
    left of its group; a descendant that escaped the group is no longer read."""
    try:
        await asyncio.wait_for(asyncio.shield(readers), DRAIN_GRACE_S)
        return
    except TimeoutError:
        pass
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    try:
        await asyncio.wait_for(readers, DRAIN_GRACE_S)
    except TimeoutError:  # wait_for cancelled the readers; close the pipes they read
        transport = getattr(process, "_transport", None)  # asyncio has no public way to close them
        if transport is not None:
            transport.close()


async def kill_group(process: asyncio.subprocess.Process, grace_s: float = 5.0) -> None:
    """SIGTERM the process group, then SIGKILL it if it has not exited within ``grace_s``."""
    for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, None)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            await asyncio.wait_for(exit_code(process), wait_s)
            return
        except TimeoutError:
            continue


async def _pump(stream: asyncio.StreamReader | None, name: str, output: ExecutionOutput) -> None:
    if stream is None:
        return
    while chunk := await stream.read(READ_BYTES):
        output.feed(name, chunk)


async def _tick(output: ExecutionOutput) -> None:
    while True:
        await asyncio.sleep(TICK_S)
        output.tick()


def ms_since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)

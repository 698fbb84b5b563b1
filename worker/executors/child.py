"""Running one child process: its own process group, output streamed, timeout and cancellation.

The child runs in a new session, so that a timeout or a cancel can signal the whole group
(SIGTERM, then SIGKILL after a grace period) and nothing it spawned outlives it.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from dataclasses import dataclass

from jobstream.schemas import Outcome
from jobstream.worker.executors.base import RunContext
from jobstream.worker.executors.output import ExecutionOutput

TICK_S = 0.1  # how often pending output and progress are flushed while the child runs
READ_BYTES = 65536


@dataclass(frozen=True)
class ChildExit:
    outcome: Outcome
    exit_code: int | None
    duration_ms: int
    error: str | None = None


async def run_child(argv: list[str], env: dict[str, str], cwd: str | None, ctx: RunContext) -> ChildExit:
    """Run ``argv`` to its end, its timeout, or ``ctx.cancelled``; never raises for the child's faults."""
    started = time.monotonic()
    try:
        process = await asyncio.create_subprocess_exec(
            *argv, cwd=cwd or None, env={**os.environ, **ctx.env, **env},
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
        await readers
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


async def _wait(process: asyncio.subprocess.Process, ctx: RunContext) -> Outcome:
    exited = asyncio.ensure_future(process.wait())
    stop = asyncio.ensure_future(ctx.cancelled.wait())
    done, _ = await asyncio.wait({exited, stop}, timeout=ctx.timeout_s, return_when=asyncio.FIRST_COMPLETED)
    stop.cancel()
    if exited in done:
        return Outcome.SUCCEEDED
    await kill_group(process, ctx.options.kill_grace_s)
    return Outcome.CANCELLED if ctx.cancelled.is_set() else Outcome.TIMED_OUT


async def kill_group(process: asyncio.subprocess.Process, grace_s: float = 5.0) -> None:
    """SIGTERM the process group, then SIGKILL it if it has not exited within ``grace_s``."""
    for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, None)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            await asyncio.wait_for(process.wait(), wait_s)
            return
        except asyncio.TimeoutError:
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

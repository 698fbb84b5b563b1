"""Running one shell task: its own process group, bounded output, timeout and cancellation.

The child runs in a new session, so that a timeout or a cancel can signal the whole group
(SIGTERM, then SIGKILL after a grace period) and nothing it spawned outlives it.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from dataclasses import dataclass

from jobstream.schemas import Outcome, ShellTask

TAIL_BYTES = 8 * 1024
KILL_GRACE_S = 5.0


class TailBuffer:
    """Keeps the last ``limit`` bytes of a stream, and counts what it dropped."""

    def __init__(self, limit: int = TAIL_BYTES) -> None:
        self.limit = limit
        self.data = bytearray()
        self.dropped = 0

    def feed(self, chunk: bytes) -> None:
        self.data += chunk
        excess = len(self.data) - self.limit
        if excess > 0:
            del self.data[:excess]
            self.dropped += excess

    def text(self) -> str:
        body = self.data.decode(errors="replace")
        return f"[... {self.dropped} bytes truncated]\n{body}" if self.dropped else body


@dataclass(frozen=True)
class ExecutionResult:
    outcome: Outcome
    exit_code: int | None
    stdout_tail: str
    stderr_tail: str
    duration_ms: int
    error: str | None = None


async def run_shell(task: ShellTask, timeout_s: float | None, cancelled: asyncio.Event,
                    on_started: asyncio.Future[int] | None = None) -> ExecutionResult:
    """Run ``task`` to its end, its timeout, or ``cancelled``; never raises for the task's faults."""
    started = time.monotonic()
    argv = ["/bin/sh", "-c", task.argv[0]] if task.shell else list(task.argv)
    try:
        process = await asyncio.create_subprocess_exec(
            *argv, cwd=task.cwd or None, env={**os.environ, **task.env},
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
    except OSError as error:
        return ExecutionResult(Outcome.FAILED, None, "", "", _ms_since(started), f"could not start: {error}")
    if on_started is not None and not on_started.done():
        on_started.set_result(process.pid)
    stdout, stderr = TailBuffer(), TailBuffer()
    readers = asyncio.gather(_pump(process.stdout, stdout), _pump(process.stderr, stderr))
    try:
        outcome = await _wait(process, timeout_s, cancelled)
        await readers
    except asyncio.CancelledError:  # the worker itself is going down: take the group with it
        await kill_group(process, grace_s=1.0)
        raise
    code = process.returncode
    if outcome == Outcome.SUCCEEDED and code != 0:
        outcome = Outcome.FAILED
    reason = {Outcome.TIMED_OUT: f"timed out after {timeout_s}s", Outcome.CANCELLED: "cancelled"}.get(outcome)
    return ExecutionResult(outcome, code, stdout.text(), stderr.text(), _ms_since(started), reason)


async def _wait(process: asyncio.subprocess.Process, timeout_s: float | None, cancelled: asyncio.Event) -> Outcome:
    exited = asyncio.ensure_future(process.wait())
    stop = asyncio.ensure_future(cancelled.wait())
    done, _ = await asyncio.wait({exited, stop}, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
    if exited in done:
        stop.cancel()
        return Outcome.SUCCEEDED
    stop.cancel()
    await kill_group(process)
    return Outcome.CANCELLED if cancelled.is_set() else Outcome.TIMED_OUT


async def kill_group(process: asyncio.subprocess.Process, grace_s: float = KILL_GRACE_S) -> None:
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


async def _pump(stream: asyncio.StreamReader | None, buffer: TailBuffer) -> None:
    if stream is None:
        return
    while chunk := await stream.read(65536):
        buffer.feed(chunk)


def _ms_since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)

"""Compatibility names for the executors, which now live in ``jobstream.worker.executors``.

``run_shell`` runs one shell task with nowhere to stream its output but the tails it returns.
"""

from __future__ import annotations

import asyncio

from jobstream.schemas import ShellTask
from jobstream.worker.executors import ExecutionOutput, ExecutionResult, RunContext, run_task
from jobstream.worker.executors.base import ExecutorOptions, StopSignal
from jobstream.worker.executors.child import kill_group
from jobstream.worker.executors.output import TAIL_BYTES, TailBuffer

KILL_GRACE_S = ExecutorOptions.kill_grace_s

__all__ = ["KILL_GRACE_S", "TAIL_BYTES", "ExecutionResult", "TailBuffer", "kill_group", "run_shell"]


async def run_shell(task: ShellTask, timeout_s: float | None, cancelled: StopSignal,
                    on_started: asyncio.Future[int] | None = None) -> ExecutionResult:
    """Run ``task`` to its end, its timeout, or ``cancelled``; never raises for the task's faults."""

    def started(pid: int | None) -> None:
        if on_started is not None and pid is not None and not on_started.done():
            on_started.set_result(pid)

    ctx = RunContext(timeout_s, cancelled, ExecutionOutput(lambda piece: None), on_started=started)
    return await run_task(task, ctx, execution_id="")

"""The executors, chosen by the task's type: shell (shell.py), http (http.py), python (python.py, or
inline.py for `"isolation": "inline"`).

``run_task`` never raises for the task's faults: every way a task can end is an ExecutionResult.
It closes the execution's output (the eof marker), and moves a large result to the logs topic.
"""

from __future__ import annotations

from dataclasses import replace

from jobstream.schemas import HttpTask, Outcome, PythonTask, ShellTask, Task
from jobstream.worker.executors.base import ExecutionResult, ExecutorOptions, RunContext, StopSignal
from jobstream.worker.executors.http import run_http_task
from jobstream.worker.executors.inline import run_inline_task
from jobstream.worker.executors.output import ExecutionOutput, OutputOptions, Piece
from jobstream.worker.executors.python import run_python_task
from jobstream.worker.executors.results import place_result
from jobstream.worker.executors.shell import run_shell_task

__all__ = ["ExecutionOutput", "ExecutionResult", "ExecutorOptions", "OutputOptions", "Piece", "RunContext",
           "StopSignal", "execute", "run_task"]


async def execute(task: Task, ctx: RunContext) -> ExecutionResult:
    """Run ``task`` with the executor its type names."""
    match task:
        case ShellTask():
            return await run_shell_task(task, ctx)
        case HttpTask():
            return await run_http_task(task, ctx)
        case PythonTask(isolation="inline"):
            return await run_inline_task(task, ctx)
        case PythonTask():
            return await run_python_task(task, ctx)
    ctx.on_started(None)
    return ctx.result(Outcome.FAILED, None, 0, f"{type(task).__name__} is not a task this worker can run")


async def run_task(task: Task, ctx: RunContext, execution_id: str) -> ExecutionResult:
    """Execute, place the result (inline or referenced), and close the output with its eof marker."""
    result = await execute(task, ctx)
    inline, large = place_result(result.result_json, execution_id, ctx.options.inline_result_bytes)
    if large is not None:
        ctx.output.write_result(large)
    ctx.output.close()
    return replace(result, result_json=inline)

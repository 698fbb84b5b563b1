"""Shell tasks: exec argv directly; /bin/sh only when ``shell`` is explicitly true."""

from __future__ import annotations

from jobstream.schemas import Outcome, ShellTask
from jobstream.worker.executors.base import ExecutionResult, RunContext
from jobstream.worker.executors.child import run_child
from jobstream.worker.limits import limit_argv

SHELL = "/bin/sh"


def shell_argv(task: ShellTask) -> list[str]:
    """The argv to exec: the task's own, or ``/bin/sh -c COMMAND`` when asked for; ValueError if neither fits."""
    if not task.argv:
        raise ValueError("argv is empty")
    if task.shell:
        if len(task.argv) != 1:  # never guess how to join words into a command line
            raise ValueError("with shell=true, argv must hold exactly one command string")
        return [SHELL, "-c", task.argv[0]]
    return list(task.argv)


async def run_shell_task(task: ShellTask, ctx: RunContext) -> ExecutionResult:
    try:
        argv = limit_argv(shell_argv(task), task.memory_limit_mb, task.cpu_limit_s)
    except ValueError as error:
        ctx.on_started(None)
        return ctx.result(Outcome.FAILED, None, 0, f"invalid task: {error}")
    done = await run_child(argv, dict(task.env), task.cwd, ctx)
    return ctx.result(done.outcome, done.exit_code, done.duration_ms, done.error)

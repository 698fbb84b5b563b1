"""Python tasks: ``package.module:function`` called in a child process (python_runner), its JSON result kept.

The child gets the task in a file and writes its result (or its error) to another, so that its
stdout and stderr stay free for the job's own output. It runs from the worker's working
directory with the worker's interpreter: the entrypoint must be importable there, or from the
worker's python path (``--python-path``), which the runner puts first on ``sys.path``.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from jobstream.schemas import Outcome, PythonTask
from jobstream.worker.allowlist import refused_entrypoint
from jobstream.worker.executors.base import ExecutionResult, RunContext
from jobstream.worker.executors.child import run_child

ERROR_BYTES = 16 * 1024


def runner_argv(workdir: Path, python: str = sys.executable) -> list[str]:
    return [python, "-m", "jobstream.worker.python_runner",
            str(workdir / "task.json"), str(workdir / "result.json"), str(workdir / "error.json")]


def task_document(task: PythonTask, python_path: tuple[str, ...] = (),
                  upstream_results: dict[str, object] | None = None,
                  allowed_modules: tuple[str, ...] = ()) -> dict[str, object]:
    """What the runner reads; ValueError if the arguments are not a JSON array and object."""
    args, kwargs = json.loads(task.args_json), json.loads(task.kwargs_json)
    if not isinstance(args, list) or not isinstance(kwargs, dict):
        raise ValueError("args_json must be a JSON array and kwargs_json a JSON object")
    return {"entrypoint": task.entrypoint, "args": args, "kwargs": kwargs,
            "memory_limit_mb": task.memory_limit_mb, "cpu_limit_s": task.cpu_limit_s,
            "python_path": list(python_path), "upstream_results": upstream_results or {},
            "allowed_modules": list(allowed_modules)}


async def run_python_task(task: PythonTask, ctx: RunContext) -> ExecutionResult:
    refused = refused_entrypoint(task.entrypoint, ctx.options.allowed_modules)
    if refused is not None:
        ctx.on_started(None)
        return ctx.result(Outcome.FAILED, None, 0, refused)
    with tempfile.TemporaryDirectory(prefix="jobstream-python-") as tmp:
        workdir = Path(tmp)
        try:
            document = task_document(task, ctx.options.python_path, ctx.upstream_results, ctx.options.allowed_modules)
            (workdir / "task.json").write_text(json.dumps(document))
        except ValueError as error:
            ctx.on_started(None)
            return ctx.result(Outcome.FAILED, None, 0, f"invalid task: {error}")
        done = await run_child(runner_argv(workdir), {**task.env, "PYTHONUNBUFFERED": "1"}, None, ctx)
        if done.outcome != Outcome.SUCCEEDED:
            return ctx.result(done.outcome, done.exit_code, done.duration_ms, _error(workdir) or done.error)
        return _read_result(workdir / "result.json", done.exit_code, done.duration_ms, ctx)


def _error(workdir: Path) -> str | None:
    """The function's exception and the tail of its traceback, as the runner wrote them."""
    path = workdir / "error.json"
    if not path.exists():
        return None
    try:
        with path.open("rb") as report:  # bounded: the runner caps it, but the job owns the file
            described = json.loads(report.read(ERROR_BYTES * 8))
        return f"{described['error']}\n{described['traceback'][-ERROR_BYTES:]}"
    except (ValueError, KeyError, TypeError):
        return "the function failed (its error report was unreadable)"


def _read_result(path: Path, exit_code: int | None, duration_ms: int, ctx: RunContext) -> ExecutionResult:
    if not path.exists():
        return ctx.result(Outcome.FAILED, exit_code, duration_ms, "the process exited without a result")
    size = path.stat().st_size
    if size > ctx.options.max_result_bytes:
        return ctx.result(Outcome.FAILED, exit_code, duration_ms,
                          f"the result is {size} bytes, over the limit of {ctx.options.max_result_bytes}")
    return ctx.result(Outcome.SUCCEEDED, exit_code, duration_ms, result_json=path.read_text())

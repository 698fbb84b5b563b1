"""The child process of a python job: ``python -m jobstream.worker.python_runner TASK RESULT ERROR``.

TASK is a JSON file (entrypoint, args, kwargs, limits, python_path, upstream_results). The runner
sets the limits, puts the worker's python path first on ``sys.path``, imports
``package.module:function``, calls it (awaiting it if it is a coroutine function) and writes what
it returns, as JSON, to RESULT; exit code 0. An exception is written to ERROR (type, message and
traceback tail) and printed to stderr; exit code 1. stdout and stderr stay the job's own: the
worker streams them to the logs topic.
"""

from __future__ import annotations

import importlib
import inspect
import json
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jobstream.worker.allowlist import refused_target
from jobstream.worker.limits import apply_limits
from jobstream.worker.python_path import put_first_on_sys_path
from jobstream.worker.upstream_results import with_upstream_results

TRACEBACK_TAIL = 4000  # characters of traceback kept in the error


def load_entrypoint(entrypoint: str, python_path: tuple[str, ...] = (),
                    allowed: tuple[str, ...] | None = None) -> Callable[..., Any]:
    """The callable ``package.module:function`` names (attributes may be dotted: ``mod:Class.method``),
    imported with ``python_path`` first on ``sys.path``; with ``allowed``, PermissionError unless it
    is defined in an allowed module and reached without stepping into another module."""
    module_name, sep, attribute = entrypoint.partition(":")
    if not sep or not module_name or not attribute:
        raise ValueError(f"entrypoint {entrypoint!r} must look like package.module:function")
    put_first_on_sys_path(python_path)
    try:
        target: Any = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name is None or not f"{module_name}.".startswith(f"{error.name}."):
            raise  # the job's module was found; something it imports was not
        raise ModuleNotFoundError(f"{error}; {_where_code_is_looked_for(python_path)}", name=error.name) from None
    steps = []
    for part in attribute.split("."):
        target = getattr(target, part)
        steps.append(target)
    if allowed is not None and (refused := refused_target(entrypoint, steps, allowed)):
        raise PermissionError(refused)
    if not callable(target):
        raise TypeError(f"{entrypoint} is not callable")
    return target  # type: ignore[no-any-return]


def _where_code_is_looked_for(python_path: tuple[str, ...]) -> str:
    # The first thing a newcomer needs when a job's module is not found.
    dirs = ", ".join(python_path) or "none"
    return (f"the worker imports job code from its working directory and its python path (now: {dirs}); "
            "start it with --python-path DIR or JOBSTREAM_WORKER_PYTHONPATH")


def call(entrypoint: str, args: list[Any], kwargs: dict[str, Any], python_path: tuple[str, ...] = (),
         upstream: dict[str, Any] | None = None, allowed: tuple[str, ...] | None = None) -> str:
    """Call the entrypoint (with ``upstream_results`` if it asks) and return its result as JSON text
    (TypeError/ValueError if it is not JSON)."""
    function = load_entrypoint(entrypoint, python_path, allowed)
    value = function(*args, **with_upstream_results(function, kwargs, upstream or {}))
    if inspect.isawaitable(value):
        import asyncio  # here, not at the top: about half a child's start-up, which a plain function never needs

        value = asyncio.run(_awaited(value))
    return json.dumps(value, allow_nan=False)


async def _awaited(awaitable: Any) -> Any:
    return await awaitable


def describe(error: BaseException) -> dict[str, str]:
    """The error as the worker reports it: one line, and the tail of the traceback."""
    text = "".join(traceback.format_exception(error))
    return {"error": f"{type(error).__name__}: {error}"[:TRACEBACK_TAIL], "traceback": text[-TRACEBACK_TAIL:]}


def run(task_path: Path, result_path: Path, error_path: Path) -> int:
    task = json.loads(task_path.read_text())
    apply_limits(task.get("memory_limit_mb"), task.get("cpu_limit_s"))
    try:
        args, kwargs = task.get("args", []), task.get("kwargs", {})
        if not isinstance(args, list) or not isinstance(kwargs, dict):
            raise TypeError("args must be a JSON array and kwargs a JSON object")
        result = call(task["entrypoint"], args, kwargs, tuple(task.get("python_path", ())),
                      task.get("upstream_results", {}), tuple(task.get("allowed_modules", ())))
    except Exception as error:  # noqa: BLE001 - the job's own failure, reported as its outcome
        described = describe(error)
        sys.stderr.write(described["traceback"])
        sys.stderr.flush()
        error_path.write_text(json.dumps(described))
        return 1
    result_path.write_text(result)
    return 0


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print("usage: python -m jobstream.worker.python_runner TASK RESULT ERROR", file=sys.stderr)
        return 2
    return run(*(Path(a) for a in argv))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Rules a job spec must satisfy, as (field, problem) pairs: the API answers them as a 4xx
naming the field, and the state processor turns them into a rejection with a reason."""

from __future__ import annotations

import json
import math
import re

from jobstream.core.env_from import SECRET_ENV_PREFIX
from jobstream.schemas import HttpTask, JobSpec, PythonTask, ShellTask

MAX_NAME = 200
# A command's payload lands in the job's events and state; the state holds the spec and the last
# report together, so twice this, with room to spare, stays under a Kafka record's 1,000,000 bytes.
# A worker's reports are far smaller (tails of 8 KiB, results over 64 KiB go to the logs topic).
MAX_COMMAND_BYTES = 400_000
MAX_BACKOFF_S = 7 * 24 * 3600.0
QUEUE_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
ENTRYPOINT = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")

Problem = tuple[str, str]


def validate_spec(spec: JobSpec) -> list[Problem]:
    problems: list[Problem] = []
    if not spec.name.strip() or len(spec.name) > MAX_NAME:
        problems.append(("name", f"must be 1 to {MAX_NAME} characters"))
    if not QUEUE_NAME.match(spec.queue):
        problems.append(("queue", "must be 1 to 100 of letters, digits, '_', '.', '-'"))
    if not 1 <= spec.priority <= 10:
        problems.append(("priority", "must be between 1 (most urgent) and 10"))
    if spec.timeout_s is not None and not (math.isfinite(spec.timeout_s) and spec.timeout_s > 0):
        problems.append(("timeout_s", "must be a positive number"))
    problems.extend(_validate_task(spec.task))
    if spec.retry is not None:
        problems.extend(_validate_retry(spec))
    if spec.upstream_results:
        problems.append(("upstream_results", "is filled in by the scheduler as upstreams settle, never submitted"))
    return problems


def _validate_task(task: object) -> list[Problem]:
    match task:
        case ShellTask(argv=argv, shell=shell):
            if not argv or any(not isinstance(arg, str) for arg in argv):
                return [("task.argv", "must be a non-empty list of strings")]
            if shell and len(argv) != 1:
                return [("task.argv", "with shell=true, must hold exactly one command string")]
            return _validate_limits(task)
        case HttpTask(url=url, method=method):
            if not url.startswith(("http://", "https://")):
                return [("task.url", "must be an http:// or https:// URL")]
            if method.upper() not in {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}:
                return [("task.method", "must be an HTTP method")]
            if any(not 100 <= status <= 599 for status in task.expected_status):
                return [("task.expected_status", "must hold HTTP statuses (100 to 599)")]
        case PythonTask(entrypoint=entrypoint):
            if not ENTRYPOINT.match(entrypoint):
                return [("task.entrypoint", "must look like package.module:function")]
            return (_validate_python_arguments(task) + _validate_limits(task) + _validate_isolation(task)
                    + _validate_python_env(task))
        case _:
            return [("task", "must be a shell, http or python task")]
    return []


ISOLATIONS = ("process", "inline")


def _validate_limits(task: ShellTask | PythonTask) -> list[Problem]:
    problems = []
    if task.memory_limit_mb is not None and task.memory_limit_mb < 1:
        problems.append(("task.memory_limit_mb", "must be positive"))
    if task.cpu_limit_s is not None and task.cpu_limit_s < 1:
        problems.append(("task.cpu_limit_s", "must be positive"))
    return problems


def _validate_isolation(task: PythonTask) -> list[Problem]:
    if task.isolation not in ISOLATIONS:
        return [("task.isolation", "must be 'process' or 'inline'")]
    if task.isolation == "inline" and (task.memory_limit_mb is not None or task.cpu_limit_s is not None):
        return [("task.isolation", "an inline task runs in the worker's process, where memory_limit_mb and "
                                   "cpu_limit_s cannot be enforced: use isolation 'process'")]
    if task.isolation == "inline" and task.env:
        return [("task.isolation", "an inline task runs in the worker's process, which has one environment for "
                                   "all its tasks: env and env_from need isolation 'process'")]
    return []


# Variables that change what the interpreter or the loader runs before the entrypoint (PYTHONPATH,
# PYTHONWARNINGS naming a module to import, LD_PRELOAD, ...): a Python task may not set them, or the
# worker's allowlist of modules would mean nothing. A shell task runs a program of its choice anyway.
INTERPRETER_VARIABLES = re.compile(r"^(PYTHON|LD_|GCONV_PATH$)")


def _validate_python_env(task: PythonTask) -> list[Problem]:
    names = sorted(name.removeprefix(SECRET_ENV_PREFIX) for name in task.env)
    if bad := [name for name in names if INTERPRETER_VARIABLES.match(name)]:
        return [("task.env", f"a Python task may not set {', '.join(bad)}: they change what the interpreter "
                             "runs before the entrypoint")]
    return []


def _validate_python_arguments(task: PythonTask) -> list[Problem]:
    for field, text, kind in (("task.args_json", task.args_json, list), ("task.kwargs_json", task.kwargs_json, dict)):
        try:
            value = json.loads(text)
        except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser goes
            return [(field, "must be JSON, nested at most a few hundred levels")]
        if not isinstance(value, kind):
            return [(field, f"must be a JSON {'array' if kind is list else 'object'}")]
    return []


def _validate_retry(spec: JobSpec) -> list[Problem]:
    retry = spec.retry
    assert retry is not None
    problems = [(f"retry.{name}", "must be a finite number")
                for name in ("initial_backoff_s", "max_backoff_s", "multiplier")
                if not math.isfinite(getattr(retry, name))]
    if problems:  # NaN passes every comparison below, and would fail the first retry's timer
        return problems
    if not 1 <= retry.max_attempts <= 100:
        problems.append(("retry.max_attempts", "must be between 1 and 100"))
    if retry.initial_backoff_s < 0 or retry.max_backoff_s < retry.initial_backoff_s:
        problems.append(("retry.max_backoff_s", "must be at least initial_backoff_s, which must be >= 0"))
    if retry.max_backoff_s > MAX_BACKOFF_S:
        problems.append(("retry.max_backoff_s", f"must be at most {MAX_BACKOFF_S:.0f} (a week)"))
    if retry.multiplier < 1:
        problems.append(("retry.multiplier", "must be at least 1"))
    return problems


def size_refusal(command_bytes: int) -> str | None:
    """Why a command this large cannot be decided: its outcome could not be recorded."""
    if command_bytes <= MAX_COMMAND_BYTES:
        return None
    return f"the command is {command_bytes} bytes, over the limit of {MAX_COMMAND_BYTES}"

"""``jobstream submit``'s options as the body of ``POST /v1/jobs``: pure, so every mapping is a unit test.

A problem in the options is a ``typer.BadParameter`` naming the option; the API checks the rest
(its 422 names the body's field).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any
from urllib.parse import urlsplit

import typer

RESOURCES = {"cpu": float, "memory_mb": int}  # --requirement keys that are resources; others are labels


def parse_pairs(pairs: list[str] | None, option: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"expected KEY=VALUE, got {pair!r}", param_hint=option)
        out[key] = value
    return out


def json_or_text(value: str) -> Any:
    """``--arg 5`` is the number 5, ``--arg '{"a": 1}'`` an object, ``--arg hello`` the string "hello"."""
    try:
        return json.loads(value)
    except ValueError:
        return value


@dataclass(frozen=True)
class TaskOptions:
    """The task: a shell command (``argv``), a Python function (``python``) or an HTTP call (``http``)."""

    argv: list[str] = field(default_factory=list)
    python: str | None = None
    args: list[str] = field(default_factory=list)
    kwargs: list[str] = field(default_factory=list)
    inline: bool = False
    http: str | None = None
    method: str | None = None
    headers: list[str] = field(default_factory=list)
    secret_headers: list[str] = field(default_factory=list)  # NAME=secret name: headers_from
    data: str | None = None
    expect: list[int] = field(default_factory=list)
    env: list[str] = field(default_factory=list)
    secret_env: list[str] = field(default_factory=list)  # VAR=secret name: env_from
    cwd: str | None = None
    shell: bool = False


@dataclass(frozen=True)
class ScheduleOptions:
    cron: str | None = None
    every: str | None = None
    at: str | None = None
    tz: str | None = None


@dataclass(frozen=True)
class RetryOptions:
    attempts: int | None = None
    backoff: float | None = None
    max_backoff: float | None = None


KIND_OPTIONS = {"shell": ("--env", "--secret-env", "--cwd", "--shell"),
                "python": ("--arg", "--kwarg", "--inline", "--env", "--secret-env"),
                "http": ("--method", "--header", "--secret-header", "--data", "--expect-status")}


def task_body(task: TaskOptions) -> dict[str, Any]:
    given = {"shell": bool(task.argv), "python": task.python is not None, "http": task.http is not None}
    kinds = [kind for kind, present in given.items() if present]
    if len(kinds) != 1:
        raise typer.BadParameter("give one task: a command after `--`, --python MODULE:FUNCTION or --http URL"
                                 + (f" (got {', '.join(kinds)})" if kinds else ""), param_hint="task")
    kind = kinds[0]
    for option, used in _options_used(task).items():
        if used and option not in KIND_OPTIONS[kind]:  # an error, not silently dropped
            raise typer.BadParameter(f"does not apply to a {kind} task", param_hint=option)
    return {"shell": _shell_task, "python": _python_task, "http": _http_task}[kind](task)


def _options_used(task: TaskOptions) -> dict[str, bool]:
    return {"--env": bool(task.env), "--secret-env": bool(task.secret_env), "--cwd": task.cwd is not None,
            "--shell": task.shell,
            "--arg": bool(task.args), "--kwarg": bool(task.kwargs), "--inline": task.inline,
            "--method": task.method is not None, "--header": bool(task.headers),
            "--secret-header": bool(task.secret_headers), "--data": task.data is not None,
            "--expect-status": bool(task.expect)}


def _secret_refs(pairs: list[str], option: str) -> dict[str, dict[str, str]]:
    return {name: {"secret": secret} for name, secret in parse_pairs(pairs, option).items()}


def _environment(task: TaskOptions) -> dict[str, Any]:
    """A child process's variables and the secrets among them (shell and Python tasks)."""
    fields: dict[str, Any] = {"env": parse_pairs(task.env, "--env")} if task.env else {}
    if task.secret_env:
        fields["env_from"] = _secret_refs(task.secret_env, "--secret-env")
    return fields


def _shell_task(task: TaskOptions) -> dict[str, Any]:
    body: dict[str, Any] = {"type": "shell", "argv": task.argv, "env": {}, "shell": task.shell, **_environment(task)}
    if task.cwd is not None:
        body["cwd"] = task.cwd
    return body


def _python_task(task: TaskOptions) -> dict[str, Any]:
    kwargs = {key: json_or_text(value) for key, value in parse_pairs(task.kwargs, "--kwarg").items()}
    body = {"type": "python", "entrypoint": task.python, "args": [json_or_text(a) for a in task.args],
            "kwargs": kwargs, **_environment(task)}
    return {**body, "isolation": "inline"} if task.inline else body


def _http_task(task: TaskOptions) -> dict[str, Any]:
    body: dict[str, Any] = {"type": "http", "url": task.http, "headers": parse_pairs(task.headers, "--header"),
                            "expected_status": list(task.expect)}
    if task.method:
        body["method"] = task.method.upper()
    if task.data is not None:
        body["body"] = task.data
    if task.secret_headers:
        body["headers_from"] = _secret_refs(task.secret_headers, "--secret-header")
    return body


def default_name(task: dict[str, Any]) -> str:
    """A name from the task: the program (`/usr/bin/env` -> `env`), the function, or the URL's host."""
    if task["type"] == "python":
        return str(task["entrypoint"]).rpartition(":")[2] or "job"
    if task["type"] == "http":
        return urlsplit(str(task["url"])).hostname or "http"
    words = task["argv"][0].split() if task["argv"] else []
    return PurePath(words[0]).name if words else "job"


def schedule_body(schedule: ScheduleOptions) -> dict[str, Any] | None:
    given = {"cron": schedule.cron, "every": schedule.every, "at": schedule.at}
    chosen = {key: value for key, value in given.items() if value is not None}
    if len(chosen) > 1:
        raise typer.BadParameter(f"give one of --cron, --every and --at, not {' and '.join(chosen)}",
                                 param_hint="--" + next(iter(chosen)))
    if schedule.tz is not None and schedule.cron is None:
        raise typer.BadParameter("is the time zone of a --cron schedule", param_hint="--tz")
    if not chosen:
        return None
    return {**chosen, "timezone": schedule.tz} if schedule.tz else chosen


def retry_body(retry: RetryOptions) -> dict[str, Any] | None:
    if retry.attempts is None:
        for option, value in (("--backoff", retry.backoff), ("--max-backoff", retry.max_backoff)):
            if value is not None:
                raise typer.BadParameter("needs --retry N (attempts, the first included)", param_hint=option)
        return None
    body: dict[str, Any] = {"max_attempts": retry.attempts}
    if retry.backoff is not None:
        body["initial_backoff_s"] = retry.backoff
    if retry.max_backoff is not None:
        body["max_backoff_s"] = retry.max_backoff
    return body


def requirements_body(pairs: list[str]) -> dict[str, Any] | None:
    """``cpu=2``, ``memory_mb=512``: resources; any other ``key=value``: a label the worker must have."""
    resources: dict[str, Any] = {}
    labels: dict[str, str] = {}
    for key, value in parse_pairs(pairs, "--requirement").items():
        if key not in RESOURCES:
            labels[key] = value
            continue
        try:
            resources[key] = RESOURCES[key](value)
        except ValueError:
            kind = "an integer" if RESOURCES[key] is int else "a number"
            raise typer.BadParameter(f"{key} must be {kind}, got {value!r}", param_hint="--requirement") from None
    if not resources and not labels:
        return None
    return {**resources, "labels": labels} if labels else resources


def depends_on_body(after: list[str], after_completed: list[str]) -> list[dict[str, str]]:
    return ([{"job_id": job_id, "condition": "succeeded"} for job_id in after]
            + [{"job_id": job_id, "condition": "completed"} for job_id in after_completed])


@dataclass(frozen=True)
class JobOptions:
    name: str | None = None
    queue: str = "default"
    priority: int = 5
    timeout: float | None = None
    labels: list[str] = field(default_factory=list)
    idempotency_key: str | None = None
    requirements: list[str] = field(default_factory=list)
    after: list[str] = field(default_factory=list)
    after_completed: list[str] = field(default_factory=list)
    upstreams_later: bool = False


def submission_body(job: JobOptions, task: TaskOptions, schedule: ScheduleOptions = ScheduleOptions(),
                    retry: RetryOptions = RetryOptions()) -> dict[str, Any]:
    """The JSON body of ``POST /v1/jobs``; optional parts only when given (the API's defaults hold)."""
    task_json = task_body(task)
    body: dict[str, Any] = {"name": job.name or default_name(task_json), "queue": job.queue,
                            "priority": job.priority, "task": task_json,
                            "labels": parse_pairs(job.labels, "--label")}
    optional = {"timeout_s": job.timeout, "idempotency_key": job.idempotency_key,
                "retry": retry_body(retry), "requirements": requirements_body(job.requirements),
                "schedule": schedule_body(schedule),
                "depends_on": depends_on_body(job.after, job.after_completed) or None,
                "upstreams_may_come_later": job.upstreams_later or None}
    return {**body, **{key: value for key, value in optional.items() if value is not None}}

"""A task's references to secrets (``env_from``, and ``headers_from`` for HTTP), carried in its
``env`` (shell and process Python tasks) or ``headers`` (HTTP) map under reserved keys,
``secret:<NAME>`` -> ``<secret name>``: only the reference travels in events, and a ``:`` never
names a variable a shell can read nor a valid header, so no plain entry is mistaken for one. The
worker that runs the job asks for the values (worker/secrets.py) and puts them where the
references were."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from jobstream.schemas import HttpTask, Task

SECRET_ENV_PREFIX = "secret:"


def with_secret_refs(env: dict[str, str], env_from: dict[str, str]) -> dict[str, str]:
    """``env`` plus the references ``variable -> secret name``."""
    return {**env, **{SECRET_ENV_PREFIX + variable: secret for variable, secret in env_from.items()}}


def split_env(env: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """The plain variables, and the references ``variable -> secret name``."""
    plain = {k: v for k, v in env.items() if not k.startswith(SECRET_ENV_PREFIX)}
    refs = {k.removeprefix(SECRET_ENV_PREFIX): v for k, v in env.items() if k.startswith(SECRET_ENV_PREFIX)}
    return plain, refs


def without_refs(task: Task) -> tuple[Task, dict[str, str]]:
    """The task as it runs (its map without the references), and the references ``name -> secret``."""
    if isinstance(task, HttpTask):
        plain, refs = split_env(task.headers)
        return (replace(task, headers=plain), refs) if refs else (task, {})
    plain, refs = split_env(task.env)
    return (replace(task, env=plain), refs) if refs else (task, {})


def with_values(task: Task, values: dict[str, str]) -> tuple[Task, dict[str, str]]:
    """The task with the secrets' values where its references were, and the variables to add to
    its process's environment: an HTTP task's values are headers, the others' variables."""
    if isinstance(task, HttpTask):
        return replace(task, headers={**task.headers, **values}), {}
    return task, values


def refs_in_document(task: Mapping[str, Any]) -> dict[str, str]:
    """The references of a task as the read model keeps it (its JSON, with ``kind``)."""
    carrier = task.get("headers") if task.get("kind") == HttpTask.__name__ else task.get("env")
    return split_env(dict(carrier or {}))[1]


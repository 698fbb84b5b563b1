"""A shell task's references to secrets (``env_from``), carried in its ``env`` map under reserved
keys, ``secret:<VARIABLE>`` -> ``<secret name>``: the task's wire schema stays as it is, and a
``:`` never names a variable a shell can read, so no plain variable is mistaken for one. Only the
reference travels in events; the worker that runs the job asks for the values (worker/secrets.py)."""

from __future__ import annotations

SECRET_ENV_PREFIX = "secret:"


def with_secret_refs(env: dict[str, str], env_from: dict[str, str]) -> dict[str, str]:
    """``env`` plus the references ``variable -> secret name``."""
    return {**env, **{SECRET_ENV_PREFIX + variable: secret for variable, secret in env_from.items()}}


def split_env(env: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """The plain variables, and the references ``variable -> secret name``."""
    plain = {k: v for k, v in env.items() if not k.startswith(SECRET_ENV_PREFIX)}
    refs = {k.removeprefix(SECRET_ENV_PREFIX): v for k, v in env.items() if k.startswith(SECRET_ENV_PREFIX)}
    return plain, refs

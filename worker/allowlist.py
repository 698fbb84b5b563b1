"""Which Python entrypoints a worker runs: those whose module matches one of its ``--allow-module``
patterns (fnmatch: ``mypkg.*``), so that a caller allowed to submit cannot run ``os:system``."""

from __future__ import annotations

from fnmatch import fnmatchcase

ANY_MODULE = ("*",)


def refused_entrypoint(entrypoint: str, allowed: tuple[str, ...]) -> str | None:
    """Why this worker does not run ``entrypoint``; None if it does."""
    module = entrypoint.partition(":")[0]
    if any(fnmatchcase(module, pattern) for pattern in allowed):
        return None
    return f"entrypoint {entrypoint!r} is not allowed on this worker (its --allow-module: {', '.join(allowed)})"

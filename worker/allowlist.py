"""Which Python entrypoints a worker runs: those whose module matches one of its allowed patterns
(fnmatch: ``mypkg.*``), so that a caller allowed to submit cannot run ``os:system``.

Deny by default: a worker allows the packages and modules it finds in its ``--python-path``
directories (the code its operator put there for jobs), and what ``--allow-module`` or
its environment names; never the standard library or site-packages unless named.
``*`` allows every module and is logged as a warning at start."""

from __future__ import annotations

from collections.abc import Iterable
from fnmatch import fnmatchcase
from pathlib import Path

from jobstream.config import WORKER_ALLOW_MODULES

ANY_MODULE = "*"
HOW_TO_ALLOW = f"allow it with --allow-module or {WORKER_ALLOW_MODULES}"


def refused_entrypoint(entrypoint: str, allowed: tuple[str, ...]) -> str | None:
    """Why this worker does not run ``entrypoint``; None if it does."""
    module = entrypoint.partition(":")[0]
    if any(fnmatchcase(module, pattern) for pattern in allowed):
        return None
    allows = f"it allows {', '.join(allowed)}" if allowed else "it allows no Python module"
    return f"entrypoint {entrypoint!r} is not allowed on this worker ({allows}; {HOW_TO_ALLOW})"


def modules_in(directories: Iterable[str]) -> tuple[str, ...]:
    """Patterns for every top-level package and module in ``directories``: ``name`` and ``name.*``."""
    names: list[str] = []
    for directory in directories:
        for entry in sorted(Path(directory).iterdir()):
            name = _importable_name(entry)
            if name and name not in names:
                names.append(name)
    return tuple(pattern for name in names for pattern in (name, f"{name}.*"))


def worker_allowlist(named: Iterable[str], python_path: tuple[str, ...]) -> tuple[str, ...]:
    """The patterns a worker allows: those named, then the modules of its python path, each once."""
    patterns: list[str] = []
    for pattern in (*named, *modules_in(python_path)):
        if pattern and pattern not in patterns:
            patterns.append(pattern)
    return tuple(patterns)


def _importable_name(entry: Path) -> str | None:
    if entry.is_dir():
        name = entry.name
    elif entry.suffix == ".py":
        name = entry.stem
    else:
        return None
    dunder = name.startswith("__")  # __pycache__, __init__.py: nothing a job imports by that name
    return name if name.isidentifier() and not dunder else None

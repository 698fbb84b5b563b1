"""Which Python entrypoints a worker runs: those whose module matches one of its allowed patterns
(fnmatch: ``mypkg.*``), so that a caller allowed to submit cannot run ``os:system``.

Deny by default: a worker allows the packages and modules it finds in its ``--python-path``
directories (the code its operator put there for jobs), and what ``--allow-module`` or
its environment names; never the standard library or site-packages unless named.
``*`` allows every module and is logged as a warning at start."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from fnmatch import fnmatchcase
from pathlib import Path
from types import ModuleType

# Only the standard library here: the child process that runs a Python task imports this module.
ALLOW_MODULES_ENV = "JOBSTREAM_WORKER_ALLOW_MODULES"  # config.WORKER_ALLOW_MODULES, spelt out (a test holds them equal)
ANY_MODULE = "*"
HOW_TO_ALLOW = f"allow it with --allow-module or {ALLOW_MODULES_ENV}"


def module_allowed(module: str, allowed: tuple[str, ...]) -> bool:
    return any(fnmatchcase(module, pattern) for pattern in allowed)


def refused_entrypoint(entrypoint: str, allowed: tuple[str, ...]) -> str | None:
    """Why this worker does not run ``entrypoint``, by its name (before anything is imported);
    None if it may. ``refused_target`` checks what the name resolved to."""
    module = entrypoint.partition(":")[0]
    if module_allowed(module, allowed):
        return None
    allows = f"it allows {', '.join(allowed)}" if allowed else "it allows no Python module"
    return f"entrypoint {entrypoint!r} is not allowed on this worker ({allows}; {HOW_TO_ALLOW})"


def refused_target(entrypoint: str, steps: list[object], allowed: tuple[str, ...]) -> str | None:
    """Why the objects an entrypoint's attributes led to (``mod:a.b``: a, then a.b) may not be
    called: a step that is a module (``mod:os.system`` walks out of ``mod``), or a callable defined
    in a module this worker does not allow (``mod:system`` after ``from os import system`` in mod)."""
    for step in steps:
        if isinstance(step, ModuleType):
            return f"entrypoint {entrypoint!r} reaches module {step.__name__}: name a function of an allowed module"
    defined_in = getattr(steps[-1], "__module__", None) if steps else None
    if not isinstance(defined_in, str) or not module_allowed(defined_in, allowed):
        return (f"entrypoint {entrypoint!r} is defined in module {defined_in}, which this worker does not allow "
                f"({HOW_TO_ALLOW})")
    return None


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
    # A folder named like a standard module (logs/, json/) would let that module run: the standard
    # library's regular modules win over a namespace package of the same name.
    return name if name.isidentifier() and not dunder and name not in sys.stdlib_module_names else None

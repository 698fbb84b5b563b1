"""Where a worker imports job code from, besides its working directory: ``--python-path DIR``
(repeatable) and ``JOBSTREAM_WORKER_PYTHONPATH`` (os.pathsep-separated). Child-process and
inline Python tasks both import from these directories."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path


def resolve_python_path(dirs: Iterable[str], source: str) -> tuple[str, ...]:
    """The directories as absolute paths, in order, each once; ValueError naming ``source`` and the
    directory that does not exist (a typo would otherwise surface as ModuleNotFoundError in a job)."""
    resolved: list[str] = []
    for given in dirs:
        path = Path(given).expanduser().resolve()
        if not path.is_dir():
            raise ValueError(f"{source}: {given!r} is not a directory")
        if str(path) not in resolved:
            resolved.append(str(path))
    return tuple(resolved)


def put_first_on_sys_path(dirs: Iterable[str]) -> None:
    """Put ``dirs`` at the front of ``sys.path``, in order (as PYTHONPATH would); idempotent."""
    missing = [d for d in dirs if d not in sys.path]
    sys.path[:0] = missing

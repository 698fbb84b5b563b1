"""What a dependent job gets of its upstreams' results (issue: results along DAG edges).

The scheduler puts them in the assignment's spec (``upstream_results``: job_id -> result JSON,
each at most 64 KiB, else a ``{"ref": ...}`` marker). Every upstream is listed, with ``None`` for
one that returned nothing (a failed upstream under ``condition: completed``). Python functions get
them as the keyword argument ``upstream_results`` when they declare it; every process job gets
them as a JSON file named by ``JOBSTREAM_UPSTREAM_RESULTS``.
"""

from __future__ import annotations

import functools
import inspect
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the python runner imports this module: it must not load the schema catalog
    from jobstream.schemas import JobSpec

PARAMETER = "upstream_results"
ENV = "JOBSTREAM_UPSTREAM_RESULTS"
FILE_NAME = "upstream_results.json"


def upstream_results(spec: JobSpec) -> dict[str, Any]:
    """Each upstream's result, parsed (None when it returned none)."""
    from jobstream.core.dependencies import upstream_ids

    kept = spec.upstream_results
    return {job_id: json.loads(kept[job_id]) if job_id in kept else None for job_id in upstream_ids(spec)}


def with_upstream_results(function: Callable[..., Any], kwargs: dict[str, Any],
                          results: dict[str, Any]) -> dict[str, Any]:
    """The call's keyword arguments, with ``upstream_results`` added if the function names that
    parameter and the caller did not pass it already."""
    if PARAMETER in kwargs or not _asks_for_results(function):
        return kwargs
    return {**kwargs, PARAMETER: results}


def _asks_for_results(function: Callable[..., Any]) -> bool:
    try:
        return _asks_cached(function)
    except TypeError:  # an unhashable callable: looked at every time
        return _asks(function)


def _asks(function: Callable[..., Any]) -> bool:
    try:
        return PARAMETER in inspect.signature(function).parameters
    except (TypeError, ValueError):  # a builtin or C callable without a signature: it cannot ask
        return False


# A signature costs about as much as running a no-op job (a builtin's is parsed from its text):
# looked up once per function, since a worker runs the same few functions again and again.
_asks_cached = functools.lru_cache(maxsize=1024)(_asks)


def write_results_file(directory: Path, results: dict[str, Any]) -> dict[str, str]:
    """Write the results file for a child process; the environment that names it."""
    path = directory / FILE_NAME
    path.write_text(json.dumps(results))
    return {ENV: str(path)}

"""Why a job waits: upstreams not submitted yet, its requirements against the live workers, or
its namespace at its in-flight cap.

The dispatcher writes nothing for a job it cannot place (only the state processor writes job
events); the reason is computed on read instead, from the ``workers`` table, by the pure
``core.placement.explain``, then from the namespace's in-flight cap (``core.quotas``). A read
model without that table yet answers no reason, not a 500.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import psycopg

from jobstream.api.store import ReadModel
from jobstream.core.lifecycle import Status
from jobstream.core.placement import Capacity, explain
from jobstream.core.quotas import cap_reason
from jobstream.schemas import DEFAULT_NAMESPACE, Requirements

log = logging.getLogger(__name__)


def requirements_of(spec: dict[str, Any] | None) -> Requirements | None:
    needs = (spec or {}).get("requirements")
    if not needs:
        return None
    return Requirements(cpu=float(needs.get("cpu") or 0.0), memory_mb=int(needs.get("memory_mb") or 0),
                        labels={str(k): str(v) for k, v in (needs.get("labels") or {}).items()})


async def waiting_reason(store: ReadModel, job: dict[str, Any], caps: Mapping[str, int] | None = None) -> str | None:
    """Why the job waits: upstreams not submitted yet (pending), no live worker able to take it, or
    its namespace at its in-flight cap (``caps``, queued); None when it is not waiting, or waits
    only its turn."""
    if job.get("status") == Status.PENDING:
        return await _missing_upstreams(store, job)
    if job.get("status") != Status.QUEUED or not job.get("queue"):
        return None
    try:
        rows = await store.active_workers_serving(job["queue"])
        reason = explain(job["queue"], requirements_of(job.get("spec")), [Capacity.from_row(r) for r in rows])
        return reason or await _namespace_at_cap(store, job, caps or {})
    except psycopg.errors.UndefinedTable:
        return None
    except psycopg.Error as error:  # the job itself was read; an explanation is a bonus
        log.warning("no waiting reason for %s: %s", job.get("job_id"), error)
        return None


async def _namespace_at_cap(store: ReadModel, job: dict[str, Any], caps: Mapping[str, int]) -> str | None:
    """The read model's count against the cap the dispatcher enforces: the dispatcher's own count
    (from the workers' credits) runs ahead of it by the projection's lag."""
    namespace = job.get("namespace") or DEFAULT_NAMESPACE
    cap = caps.get(namespace)
    return None if cap is None else cap_reason(namespace, cap, await store.in_flight(namespace))


async def _missing_upstreams(store: ReadModel, job: dict[str, Any]) -> str | None:
    upstreams = [str(d.get("job_id")) for d in (job.get("spec") or {}).get("depends_on") or []]
    if not upstreams:
        return None
    try:
        known = await store.existing(upstreams, None)
    except psycopg.Error as error:
        log.warning("no waiting reason for %s: %s", job.get("job_id"), error)
        return None
    missing = [u for u in upstreams if u not in known]
    if not missing:
        return None
    shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
    return f"waiting for upstream jobs that have not been submitted: {shown}"

"""Placement: does a job's requirement fit what a worker declared, and if no live worker fits,
why not. Pure; shared by the dispatch board (which places) and the API (which explains a wait).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from jobstream.schemas import Requirements

NO_NEEDS = Requirements()


@dataclass(frozen=True, slots=True)
class Capacity:
    """What one live worker declared: the queues it serves and its resources."""

    worker_id: str
    queues: tuple[str, ...]
    cpu: float
    memory_mb: int
    labels: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Capacity:
        """From a row of the read model's ``workers`` table (missing columns count as nothing)."""
        return cls(worker_id=str(row.get("worker_id", "")), queues=tuple(row.get("queues") or ()),
                   cpu=float(row.get("cpu") or 0.0), memory_mb=int(row.get("memory_mb") or 0),
                   labels={str(k): str(v) for k, v in (row.get("labels") or {}).items()})


def shortfall(needs: Requirements | None, cpu: float, memory_mb: int, labels: Mapping[str, str]) -> list[str]:
    """What ``needs`` asks for beyond the given resources and labels; empty when it fits."""
    needs = needs or NO_NEEDS
    missing = []
    if needs.cpu > cpu:
        missing.append(f"cpu {needs.cpu:g} > {cpu:g}")
    if needs.memory_mb > memory_mb:
        missing.append(f"memory_mb {needs.memory_mb} > {memory_mb}")
    missing += [f"label {key}={value}" for key, value in sorted(needs.labels.items()) if labels.get(key) != value]
    return missing


def fits(needs: Requirements | None, cpu: float, memory_mb: int, labels: Mapping[str, str]) -> bool:
    return not shortfall(needs, cpu, memory_mb, labels)


def explain(queue: str, needs: Requirements | None, workers: Iterable[Capacity]) -> str | None:
    """Why no live worker could ever take this job, or None when one could (it waits its turn).

    Compares with what workers *declared*, not with what is free now: a job waiting for a busy
    worker is not stuck, one whose requirements exceed every worker is."""
    serving = [w for w in workers if queue in w.queues]
    if not serving:
        return f"no live worker serves queue {queue!r}"
    gaps = [shortfall(needs, w.cpu, w.memory_mb, w.labels) for w in serving]
    if any(not gap for gap in gaps):
        return None
    needs = needs or NO_NEEDS
    reasons = []
    if all(needs.memory_mb > w.memory_mb for w in serving):
        reasons.append(f"needs memory_mb={needs.memory_mb} but the most any live worker of queue {queue!r} "
                       f"declares is {max(w.memory_mb for w in serving)}")
    if all(needs.cpu > w.cpu for w in serving):
        reasons.append(f"needs cpu={needs.cpu:g} but the most any live worker of queue {queue!r} "
                       f"declares is {max(w.cpu for w in serving):g}")
    for key, value in sorted(needs.labels.items()):
        if all(w.labels.get(key) != value for w in serving):
            reasons.append(f"needs label {key}={value} but no live worker of queue {queue!r} has it")
    if not reasons:  # each need is met somewhere, never all on one worker
        closest = min(gaps, key=len)
        reasons.append(f"no single live worker of queue {queue!r} meets all its requirements "
                       f"(the closest lacks {', '.join(closest)})")
    return "; ".join(reasons)

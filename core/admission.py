"""What a worker may start: its own slots, cpu and memory hold whatever it is sent. Pure.

The dispatcher's accounting keeps a worker within its room as long as the credits it holds are
the worker's latest; a restarted dispatcher, or credits it cannot order, can still send one
assignment too many. The worker is the last word on its own capacity: it admits an assignment
only if it fits beside what runs, and hands any other back (``ReturnAssignment``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from jobstream.core.placement import NO_NEEDS, shortfall
from jobstream.schemas import JobSpec, Requirements


@dataclass(frozen=True, slots=True)
class WorkerCapacity:
    """What a worker declared it can run at once."""

    queues: tuple[str, ...]
    slots: int
    cpu: float
    memory_mb: int
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Free:
    """What is left of a worker's capacity beside what it runs."""

    slots: int
    cpu: float
    memory_mb: int


def free(capacity: WorkerCapacity, running: Iterable[Requirements | None]) -> Free:
    needs = [n or NO_NEEDS for n in running]
    return Free(slots=max(capacity.slots - len(needs), 0),
                cpu=max(capacity.cpu - sum(n.cpu for n in needs), 0.0),
                memory_mb=max(capacity.memory_mb - sum(n.memory_mb for n in needs), 0))


def split_slots(free: int, queues: tuple[str, ...], turn: int) -> dict[str, int]:
    """Free slots offered per queue, never more than ``free`` in all. The remainder rotates with
    ``turn`` so that every queue gets its chance. (Cpu and memory are offered whole to each queue:
    two queues can together be sent more than the worker has, which ``refusal`` then turns away.)"""
    base, extra = divmod(free, len(queues))
    return {q: base + (1 if (i - turn) % len(queues) < extra else 0) for i, q in enumerate(queues)}


def refusal(capacity: WorkerCapacity, running: Iterable[Requirements | None], spec: JobSpec,
            draining: bool = False) -> str | None:
    """Why the worker cannot start ``spec`` beside what runs (None: it fits)."""
    if draining:
        return "the worker is draining: it takes nothing new"
    if spec.queue not in capacity.queues:
        return f"queue {spec.queue!r} is not served by this worker"
    running = list(running)
    room = free(capacity, running)
    if room.slots < 1:
        return f"no free slot ({len(running)} of {capacity.slots} in use)"
    missing = shortfall(spec.requirements, room.cpu + 1e-9, room.memory_mb, capacity.labels)
    if missing:
        return f"needs more than is free here: {', '.join(missing)}"
    return None


__all__ = ["Free", "WorkerCapacity", "free", "refusal", "split_slots"]

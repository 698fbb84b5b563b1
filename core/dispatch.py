"""The dispatch board: which ready execution goes to which worker. Pure; time passed in.

Ranking. Priorities run from 1 (most urgent) to 10. A job's effective priority improves by one
level per ``aging_step_s`` of waiting: ``a`` goes before ``b`` when

    priority_a - wait_a / step < priority_b - wait_b / step
    <=> enqueued_a + (priority_a - 1) * step < enqueued_b + (priority_b - 1) * step

Both sides are fixed at enqueue time, so the order never changes with the clock: one static heap
key, ``enqueued_at + (priority - 1) * step`` (the moment the job "becomes priority 1"), and no
re-sorting. Ties go first come, first served.

The aging bound. A job of priority p enqueued at t has key K = t + (p - 1) * step. A job with a
larger key never goes before it while it fits a live worker with room, and every job enqueued
after K has a larger key. So it waits at most (p - 1) * step plus D, where D is how long the
queue takes to dispatch the jobs with a smaller key: under a flood of priority-1 jobs that the
workers keep up with, D is the wait of those jobs themselves (one service time per slot).
A priority-10 job under such a flood runs within 9 * step + D (90 s + D with the default step).

Matching. Ready jobs are grouped by shape (queue, cpu, memory, labels): jobs of one shape are
interchangeable for placement, so a shape that fits no worker with room is skipped once per
match, whatever the number of its jobs. Each shape keeps a heap by key; a match merges the heads
of the placeable shapes, best key first.

Room. A worker's credit (per queue) says how many slots, how much cpu and memory it has free,
net of what it runs, and how many assignments from that queue it has received. The board
subtracts what it sent that the worker had not yet received (those are in the worker's
partition, in order), so a worker never gets more than its slots, cpu or memory. A queue's
concurrency limit counts its in-flight executions: what live workers report running for it
plus what is on its way to them. Credits carry the worker's (incarnation, seq): only a later one
replaces what the board holds, so repeats, reorderings and replays after a restart cannot
inflate a worker's room. What a restarted board cannot know (assignments its predecessor sent
that the worker had not received yet) the worker itself refuses and hands back
(``core/admission.py``).

A namespace's in-flight cap (``jobstream quotas set --max-in-flight``) counts the same way, per
namespace: what the known workers report running for it (``running_namespaces`` of each credit)
plus what is on its way to them. Jobs are grouped by namespace too (the last part of a shape), so
a namespace at its cap waits without holding back another's jobs of the same queue. With no cap
set nothing is counted.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from jobstream.core.placement import NO_NEEDS
from jobstream.schemas import JobReady, WorkerCredit

DEFAULT_AGING_STEP_S = 10.0
# Workers send credits every 2 s (and after each finish); one missed and the next still counts.
# It must stay below the worker-loss window (6 s by default), so that work queued again after a
# loss never goes back to the lost worker: its credits have expired by then, even when the loss
# event reaches this dispatcher late.
DEFAULT_CREDIT_TTL_S = 4.0
ASSIGNED_MEMORY = 100_000  # recent assignments remembered, so that a redelivered JobReady is ignored

Shape = tuple[str, float, int, tuple[tuple[str, str], ...], str]  # queue, cpu, memory_mb, labels, namespace
_Entry = tuple[float, int, str, JobReady]  # key, arrival order, job_id, the job as added


def shape_of(job: JobReady) -> Shape:
    needs = job.spec.requirements or NO_NEEDS
    return job.queue, needs.cpu, needs.memory_mb, tuple(sorted(needs.labels.items())), job.namespace


def parse_queue_limits(text: str) -> dict[str, int]:
    """``"default=100,gpu=2"`` -> ``{"default": 100, "gpu": 2}``; raises ValueError naming the entry."""
    limits: dict[str, int] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        queue, sep, value = item.partition("=")
        if not sep or not queue.strip() or not value.strip().isdigit():
            raise ValueError(f"queue limit {item!r} is not queue=N (N a whole number)")
        limits[queue.strip()] = int(value)
    return limits


@dataclass
class _Credit:
    """What the board knows of one worker's room for one queue."""

    credit: WorkerCredit
    sent: int = 0  # assignments sent to this worker from this queue, ever
    transit: deque[tuple[float, int, str]] = field(default_factory=deque)  # (cpu, memory, namespace) sent, not received
    transit_cpu: float = 0.0
    transit_memory: int = 0
    issued_s: float = 0.0  # the credit's issued_at as a timestamp: compared on every match
    live: bool = True  # False while the latest credit is a replay: it counts, but places nothing

    def refresh(self, credit: WorkerCredit, live: bool = True) -> None:
        self.live = live
        if _new_process(credit, self.credit):  # a new process under the same id counts from 0
            self.sent = credit.received
            self.transit.clear()
            self.transit_cpu, self.transit_memory = 0.0, 0
        self.credit = credit
        self.issued_s = credit.issued_at.timestamp()
        self.sent = max(self.sent, credit.received)  # a restarted board learns what was sent before
        while len(self.transit) > self.in_transit():  # the oldest ones have arrived
            cpu, memory, _ = self.transit.popleft()
            self.transit_cpu -= cpu
            self.transit_memory -= memory

    def in_transit(self) -> int:
        return self.sent - self.credit.received

    def in_flight(self) -> int:
        """Executions of this queue on or towards the worker (running unknown counts as none)."""
        return (self.credit.running or 0) + self.in_transit()

    def in_flight_of(self, namespace: str) -> int:
        """Executions of ``namespace`` from this queue on or towards the worker."""
        return (self.credit.running_namespaces.get(namespace, 0)
                + sum(1 for _, _, of in self.transit if of == namespace))

    def room(self) -> int:
        return self.credit.free_slots - self.in_transit()

    def fits(self, shape: Shape) -> bool:
        _, cpu, memory, labels, _ = shape
        credit = self.credit
        return (cpu <= credit.cpu_free - self.transit_cpu + 1e-9
                and memory <= credit.memory_mb_free - self.transit_memory
                and all(credit.labels.get(key) == value for key, value in labels))

    def take(self, job: JobReady) -> None:
        needs = job.spec.requirements or NO_NEEDS
        self.sent += 1
        self.transit.append((needs.cpu, needs.memory_mb, job.namespace))
        self.transit_cpu += needs.cpu
        self.transit_memory += needs.memory_mb


def _new_process(credit: WorkerCredit, known: WorkerCredit) -> bool:
    if credit.incarnation is not None and known.incarnation is not None:
        return credit.incarnation != known.incarnation
    return credit.received < known.received  # workers that do not say: their count went back


def is_later(credit: WorkerCredit, known: WorkerCredit) -> bool:
    """Whether ``credit`` supersedes ``known`` (same worker and queue). Ordered by (incarnation,
    seq) when both say, so a repeated, reordered or replayed credit changes nothing; credits of
    workers that do not say are taken in arrival order."""
    if None in (credit.incarnation, credit.seq, known.incarnation, known.seq):
        return True
    return (credit.incarnation, credit.seq) > (known.incarnation, known.seq)  # type: ignore[operator]


@dataclass(frozen=True, slots=True)
class Match:
    job: JobReady
    worker_id: str


@dataclass
class DispatchBoard:
    aging_step_s: float = DEFAULT_AGING_STEP_S
    credit_ttl_s: float = DEFAULT_CREDIT_TTL_S
    queue_limits: Mapping[str, int] = field(default_factory=dict)  # queue -> max in-flight; absent: none
    namespace_caps: Mapping[str, int] = field(default_factory=dict)  # namespace -> max in-flight; absent: none
    ready: dict[str, JobReady] = field(default_factory=dict)
    credits: dict[tuple[str, str], _Credit] = field(default_factory=dict)  # (worker_id, queue)
    _shapes: dict[Shape, list[_Entry]] = field(default_factory=dict)
    _gone: dict[str, datetime] = field(default_factory=dict)  # worker_id -> credits up to then are void
    _assigned: OrderedDict[str, int] = field(default_factory=OrderedDict)  # job_id -> attempt, recent ones
    _order: itertools.count[int] = field(default_factory=itertools.count)

    def key(self, job: JobReady) -> float:
        """When the job ranks as a fresh priority-1 job: the static heap key (see the module doc)."""
        return job.enqueued_at.timestamp() + (job.priority - 1) * self.aging_step_s

    def add(self, job: JobReady) -> None:
        """Offer an execution. Idempotent; a newer attempt of the same job replaces an older one."""
        current = self.ready.get(job.job_id)
        if current is not None and current.attempt > job.attempt:
            return
        if current == job or self._assigned.get(job.job_id, 0) >= job.attempt:
            return  # a repeat, or a redelivery of what was already assigned
        self.ready[job.job_id] = job  # an older entry of the job is dropped lazily
        entry = (self.key(job), next(self._order), job.job_id, job)
        heapq.heappush(self._shapes.setdefault(shape_of(job), []), entry)

    def depths(self, now: datetime) -> dict[str, tuple[int, float]]:
        """Per queue: ready executions, and how long the oldest has waited (seconds)."""
        depths: dict[str, tuple[int, float]] = {}
        for job in self.ready.values():
            count, oldest = depths.get(job.queue, (0, 0.0))
            depths[job.queue] = (count + 1, max(oldest, (now - job.enqueued_at).total_seconds()))
        return depths

    def reset(self, jobs: Iterable[JobReady]) -> None:
        """Start again from these ready jobs (after a rebalance) and no credits; departed workers stay
        departed."""
        self.ready, self.credits, self._shapes = {}, {}, {}
        for job in jobs:
            self.add(job)

    def renewed(self, jobs: Iterable[JobReady]) -> DispatchBoard:
        """A board of the same settings holding only these ready jobs (the committed state after a
        failed transaction): no credits and no memory of assignments, departed workers still
        departed."""
        board = DispatchBoard(self.aging_step_s, self.credit_ttl_s, self.queue_limits, self.namespace_caps,
                              _gone=dict(self._gone))
        for job in jobs:
            board.add(job)
        return board

    def retain(self, keep: Callable[[str], bool]) -> None:
        """Forget the ready jobs and credits of the queues ``keep`` refuses (their partition moved
        to another dispatcher)."""
        self.ready = {job_id: job for job_id, job in self.ready.items() if keep(job.queue)}
        self.credits = {key: credit for key, credit in self.credits.items() if keep(key[1])}
        self._shapes = {shape: heap for shape, heap in self._shapes.items() if keep(shape[0])}

    def withdraw(self, job_id: str, attempt: int) -> None:
        current = self.ready.get(job_id)
        if current is not None and current.attempt <= attempt:
            del self.ready[job_id]  # its heap entry is dropped lazily

    def offer(self, credit: WorkerCredit, live: bool = True) -> None:
        """Take a worker's credit. A replayed one (``live=False``: read again after a restart)
        updates the accounting but places nothing: it may predate assignments the previous owner
        of the queue sent, which this board never saw."""
        gone = self._gone.get(credit.worker_id)
        if gone is not None and credit.issued_at <= gone:
            return  # a late credit of a worker we were told is gone
        key = (credit.worker_id, credit.queue)
        known = self.credits.get(key)
        if known is None:
            self.credits[key] = known = _Credit(credit)
        elif not is_later(credit, known.credit):
            return  # a repeat, or older than what we hold: it would overstate the worker's room
        known.refresh(credit, live)

    def forget_worker(self, worker_id: str, at: datetime | None = None) -> None:
        """Drop a worker's credits (it is lost, draining or gone); credits issued up to ``at`` stay void."""
        for key in [k for k in self.credits if k[0] == worker_id]:
            del self.credits[key]
        if at is not None:
            self._gone = {w: t for w, t in self._gone.items() if (at - t).total_seconds() <= self.credit_ttl_s}
            self._gone[worker_id] = max(at, self._gone.get(worker_id, at))

    def match(self, now: datetime) -> list[Match]:
        """Assign ready executions, best key first, to workers with room. Removes what it assigns."""
        by_queue: dict[str, list[_Credit]] = {}
        known: dict[str, list[_Credit]] = {}
        oldest = now.timestamp() - self.credit_ttl_s
        for credit in self.credits.values():
            known.setdefault(credit.credit.queue, []).append(credit)
            if credit.issued_s >= oldest and credit.live:
                by_queue.setdefault(credit.credit.queue, []).append(credit)
        if not any(c.room() > 0 for credits in by_queue.values() for c in credits):
            return []  # the common case under load: nobody has room, nothing to look at
        # A queue's limit counts what every known worker holds, also one whose credit is too old
        # to place work on: its executions run until it sends a newer credit or departs.
        budget = {q: self._queue_room(q, known[q]) for q in by_queue}
        caps = self._namespace_room() if self.namespace_caps else {}  # no cap set: nothing to count
        heads: list[tuple[float, int, Shape]] = []
        for shape in list(self._shapes):
            open_ = budget.get(shape[0], 0) > 0 and caps.get(shape[4], 1) > 0
            head = self._head(shape) if open_ else None
            if head is not None:
                heads.append((head[0], head[1], shape))
        heapq.heapify(heads)
        matches: list[Match] = []
        while heads:
            _, _, shape = heapq.heappop(heads)
            queue, namespace = shape[0], shape[4]
            open_ = budget[queue] > 0 and caps.get(namespace, 1) > 0
            worker = self._best_worker(shape, by_queue[queue]) if open_ else None
            if worker is None:
                continue  # this shape waits, all its jobs at once
            job = heapq.heappop(self._shapes[shape])[3]
            del self.ready[job.job_id]
            self._remember(job)
            worker.take(job)
            budget[queue] -= 1
            if namespace in caps:
                caps[namespace] -= 1
            matches.append(Match(job, worker.credit.worker_id))
            head = self._head(shape)
            if head is not None:
                heapq.heappush(heads, (head[0], head[1], shape))
        return matches

    def _remember(self, job: JobReady) -> None:
        self._assigned[job.job_id] = job.attempt
        self._assigned.move_to_end(job.job_id)
        if len(self._assigned) > ASSIGNED_MEMORY:
            self._assigned.popitem(last=False)

    def _head(self, shape: Shape) -> _Entry | None:
        """The shape's best current entry, dropping withdrawn and superseded ones on the way."""
        heap = self._shapes[shape]
        while heap and self.ready.get(heap[0][2]) is not heap[0][3]:
            heapq.heappop(heap)
        if not heap:
            del self._shapes[shape]
            return None
        return heap[0]

    def _queue_room(self, queue: str, credits: list[_Credit]) -> float:
        limit = self.queue_limits.get(queue)
        return math.inf if limit is None else limit - sum(c.in_flight() for c in credits)

    def namespace_in_flight(self) -> dict[str, int]:
        """Per capped namespace, its executions on or towards the workers this board knows."""
        return {namespace: sum(c.in_flight_of(namespace) for c in self.credits.values())
                for namespace in self.namespace_caps}

    def _namespace_room(self) -> dict[str, int]:
        """Per capped namespace, how many more may go: its cap less its executions on or towards
        every worker this board knows (the queues it owns; see docs/architecture.md)."""
        in_flight = self.namespace_in_flight()
        return {namespace: cap - in_flight[namespace] for namespace, cap in self.namespace_caps.items()}

    @staticmethod
    def _best_worker(shape: Shape, credits: list[_Credit]) -> _Credit | None:
        """The fitting worker with the most room: spreads load across workers."""
        fitting = [c for c in credits if c.room() > 0 and c.fits(shape)]
        return max(fitting, key=lambda c: (c.room(), c.credit.worker_id), default=None)


__all__ = ["DEFAULT_AGING_STEP_S", "DEFAULT_CREDIT_TTL_S", "DispatchBoard", "Match", "Shape", "is_later",
           "parse_queue_limits", "shape_of"]

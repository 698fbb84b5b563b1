"""The dispatch board: which ready execution goes to which worker. Pure; time passed in.

Priority with aging: a job's effective priority improves by one level per ``aging_step_s`` of
waiting. Comparing two jobs, ``a`` goes first when

    priority_a - wait_a / step < priority_b - wait_b / step
    <=> priority_a * step + enqueued_a < priority_b * step + enqueued_b

so the order never changes with time and one static heap key does it. The bound: a job of
priority p ranks with fresh priority-1 jobs after (p - 1) * step seconds; from then on only jobs
with a smaller key (enqueued before it, adjusted for priority) run ahead of it.

Workers pull: a worker's credit says how many slots it has free for a queue and how many
assignments from that queue it has received; the board never sends more than the credit minus
what is still in flight towards the worker.
"""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass, field
from datetime import datetime

from jobstream.schemas import JobReady, WorkerCredit

DEFAULT_AGING_STEP_S = 10.0
DEFAULT_CREDIT_TTL_S = 15.0


@dataclass
class _Credit:
    """What the board knows of one worker's room for one queue."""

    credit: WorkerCredit
    sent: int = 0  # assignments sent to this worker from this queue
    cpu_used: float = 0.0  # by assignments sent since the credit was issued
    memory_used: int = 0
    slots_used: int = 0

    def refresh(self, credit: WorkerCredit) -> None:
        self.credit = credit
        self.sent = max(self.sent, credit.received)  # a restarted board learns what was sent before
        in_flight = self.sent - credit.received
        self.slots_used, self.cpu_used, self.memory_used = in_flight, 0.0, 0

    def room(self) -> int:
        return self.credit.free_slots - self.slots_used

    def fits(self, job: JobReady) -> bool:
        needs = job.spec.requirements
        if needs is None:
            return True
        credit = self.credit
        return (needs.cpu <= credit.cpu_free - self.cpu_used
                and needs.memory_mb <= credit.memory_mb_free - self.memory_used
                and all(credit.labels.get(key) == value for key, value in needs.labels.items()))

    def take(self, job: JobReady) -> None:
        needs = job.spec.requirements
        self.sent += 1
        self.slots_used += 1
        if needs is not None:
            self.cpu_used += needs.cpu
            self.memory_used += needs.memory_mb


@dataclass(frozen=True, slots=True)
class Match:
    job: JobReady
    worker_id: str


@dataclass
class DispatchBoard:
    aging_step_s: float = DEFAULT_AGING_STEP_S
    credit_ttl_s: float = DEFAULT_CREDIT_TTL_S
    ready: dict[str, JobReady] = field(default_factory=dict)
    credits: dict[tuple[str, str], _Credit] = field(default_factory=dict)  # (worker_id, queue)
    _heap: list[tuple[float, int, str, int]] = field(default_factory=list)
    _order: itertools.count[int] = field(default_factory=itertools.count)

    def rank(self, job: JobReady) -> float:
        return job.priority * self.aging_step_s + job.enqueued_at.timestamp()

    def add(self, job: JobReady) -> None:
        """Offer an execution. Idempotent; a newer attempt of the same job replaces an older one."""
        current = self.ready.get(job.job_id)
        if current is not None and current.attempt > job.attempt:
            return
        if current == job:
            return
        self.ready[job.job_id] = job
        heapq.heappush(self._heap, (self.rank(job), next(self._order), job.job_id, job.attempt))

    def withdraw(self, job_id: str, attempt: int) -> None:
        current = self.ready.get(job_id)
        if current is not None and current.attempt <= attempt:
            del self.ready[job_id]  # its heap entry is dropped lazily

    def offer(self, credit: WorkerCredit) -> None:
        key = (credit.worker_id, credit.queue)
        known = self.credits.get(key)
        if known is None:
            self.credits[key] = known = _Credit(credit)
        known.refresh(credit)

    def match(self, now: datetime) -> list[Match]:
        """Assign ready executions, best rank first, to workers with room. Removes what it assigns."""
        live = self._live_credits(now)
        matches: list[Match] = []
        skipped: list[tuple[float, int, str, int]] = []
        while self._heap and any(c.room() > 0 for c in live):
            entry = heapq.heappop(self._heap)
            job = self.ready.get(entry[2])
            if job is None or job.attempt != entry[3]:
                continue  # withdrawn or superseded
            chosen = self._best_worker(job, live)
            if chosen is None:
                skipped.append(entry)
                continue
            chosen.take(job)
            del self.ready[job.job_id]
            matches.append(Match(job, chosen.credit.worker_id))
        for entry in skipped:
            heapq.heappush(self._heap, entry)
        return matches

    def _live_credits(self, now: datetime) -> list[_Credit]:
        return [c for c in self.credits.values()
                if (now - c.credit.issued_at).total_seconds() <= self.credit_ttl_s]

    @staticmethod
    def _best_worker(job: JobReady, live: list[_Credit]) -> _Credit | None:
        """The fitting worker with the most room: spreads load across workers."""
        fitting = [c for c in live if c.credit.queue == job.queue and c.room() > 0 and c.fits(job)]
        return max(fitting, key=lambda c: (c.room(), c.credit.worker_id), default=None)

    def forget_worker(self, worker_id: str) -> None:
        for key in [k for k in self.credits if k[0] == worker_id]:
            del self.credits[key]

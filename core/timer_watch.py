"""Timers the state processor arms again once they are long overdue.

The timer processor (faust, at-least-once) can lose an armed timer. A fresh-clone chaos run lost a
retry's timer that arrived just as the timer group rebalanced: its offset was committed, but it
was never stored nor fired, and its job waited forever. So the state processor keeps each
scheduled job's pending timer (``core.timers.pending_timer``) by when it becomes overdue, due plus
``GRACE_S``, and sends that timer's ``TimerChange`` again when it is. The timer id is the same,
so a late but not lost timer fires at most once more, and the second ``FireTimer`` decides nothing.

Entries wait for the transaction that made them, like the state they come from; an entry whose
job has moved on (fired, cancelled, a newer timer) is dropped when it comes up.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from jobstream.core.state import JobState
from jobstream.core.timers import pending_timer
from jobstream.schemas import ArmedTimer

GRACE_S = 30.0  # far beyond a healthy timer's lateness (milliseconds) and a timer processor's restart
AT_MOST = 1_000  # re-armed per round: a long outage of the timer processor is worked off over several

Entry = tuple[datetime, int, str, str]  # (overdue at, partition, job_id, timer_id)


class TimerWatch:
    def __init__(self, grace_s: float = GRACE_S) -> None:
        self.grace = timedelta(seconds=grace_s)
        self.heap: list[Entry] = []
        self.new: list[Entry] = []  # this transaction's, kept once it commits
        self.popped: list[Entry] = []  # this transaction's, put back if it aborts

    def decided(self, before: JobState, after: JobState, partition: int) -> None:
        """A decision that arms a new timer for its job."""
        timer = pending_timer(after)
        if timer is not None and timer != pending_timer(before):
            self.new.append((timer.due_at + self.grace, partition, after.job_id, timer.timer_id))

    def restored(self, states: Iterable[JobState], partition: int) -> None:
        """A partition's committed states, on assignment."""
        for state in states:
            timer = pending_timer(state)
            if timer is not None:
                heapq.heappush(self.heap, (timer.due_at + self.grace, partition, state.job_id, timer.timer_id))

    def overdue(self, now: datetime, owned: frozenset[int],
                state_of: Callable[[int, str], JobState | None]) -> list[tuple[str, ArmedTimer]]:
        """(job_id, timer) of the timers still pending ``GRACE_S`` after they were due; each is
        watched again from now."""
        found: list[tuple[str, ArmedTimer]] = []
        while self.heap and self.heap[0][0] <= now and len(found) < AT_MOST:
            entry = heapq.heappop(self.heap)
            self.popped.append(entry)
            _, partition, job_id, timer_id = entry
            state = state_of(partition, job_id) if partition in owned else None
            timer = pending_timer(state) if state is not None else None
            if timer is not None and timer.timer_id == timer_id:
                found.append((job_id, timer))
                self.new.append((now + self.grace, partition, job_id, timer_id))
        return found

    def committed(self) -> None:
        for entry in self.new:
            heapq.heappush(self.heap, entry)
        self.new, self.popped = [], []

    def aborted(self) -> None:
        for entry in self.popped:
            heapq.heappush(self.heap, entry)
        self.new, self.popped = [], []

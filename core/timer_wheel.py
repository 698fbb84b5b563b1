"""A hierarchical timing wheel: the processor's timers (cron fires, retries, deadlines) in memory.

Pure data structure: time only moves when the caller passes ``now`` to ``advance``. Level L has
``slots_per_level`` buckets of ``slots_per_level**L`` ticks each; a timer sits at the lowest level
whose horizon reaches it, and cascades down as its bucket comes due. Timers beyond the top level
wait in an overflow heap. A large jump of ``now`` (a restart after hours) visits occupied buckets
only, never the empty ticks between them.

Ticks only locate timers: a timer is released when its tick is reached, then held in a small heap
until ``now >= due``, so it never fires early because of tick rounding.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any, NamedTuple

_MICRO = timedelta(microseconds=1)
_NEAR = -1  # released from the wheel, waiting for now >= due (in the near heap)
_FAR = -2  # beyond the top level (in the overflow heap)
_STEP_LIMIT = 8  # advancing by at most this many ticks steps them one by one instead of searching


class Fired(NamedTuple):
    """A timer returned by ``advance`` (or listed by ``pending``)."""

    timer_id: str
    due: datetime
    payload: Any


class _Timer:
    """One scheduled timer; ``level``/``slot`` say where it sits so cancel is O(1)."""

    __slots__ = ("timer_id", "due", "due_us", "payload", "level", "slot")

    def __init__(self, timer_id: str, due: datetime, due_us: int, payload: Any) -> None:
        self.timer_id = timer_id
        self.due = due
        self.due_us = due_us
        self.payload = payload
        self.level = _NEAR
        self.slot = 0


_HeapItem = tuple[int, str, int, _Timer]  # (due_us, timer_id, seq, timer): ordered, ties impossible


class TimerWheel:
    """Timers keyed by id; ``advance(now)`` returns those with ``due <= now``, each exactly once."""

    __slots__ = ("_start", "_tick_us", "_size", "_levels", "_spans", "_wheel", "_counts", "_tick",
                 "_timers", "_near", "_far", "_seq")

    def __init__(self, tick_ms: int = 10, slots_per_level: int = 256, levels: int = 4, *,
                 start: datetime) -> None:
        if tick_ms < 1 or slots_per_level < 2 or levels < 1:
            raise ValueError("tick_ms >= 1, slots_per_level >= 2 and levels >= 1 are required")
        _require_aware(start, "start")
        self._start = start
        self._tick_us = tick_ms * 1000
        self._size = slots_per_level
        self._levels = levels
        self._spans = [slots_per_level**level for level in range(levels)]
        self._wheel: list[list[set[_Timer] | None]] = [[None] * slots_per_level for _ in range(levels)]
        self._counts = [0] * levels
        self._tick = -1  # every bucket starting at or before this tick has been processed
        self._timers: dict[str, _Timer] = {}
        self._near: list[_HeapItem] = []
        self._far: list[_HeapItem] = []
        self._seq = itertools.count()

    def __len__(self) -> int:
        return len(self._timers)

    def __contains__(self, timer_id: object) -> bool:
        return timer_id in self._timers

    def schedule(self, timer_id: str, due: datetime, payload: Any = None) -> None:
        """Add a timer, replacing any pending one with the same id; a past due fires next advance."""
        _require_aware(due, "due")
        self.cancel(timer_id)
        timer = _Timer(timer_id, due, (due - self._start) // _MICRO, payload)
        self._timers[timer_id] = timer
        self._place(timer)

    def cancel(self, timer_id: str) -> bool:
        """Remove a pending timer; False when there is none (never scheduled, fired or cancelled)."""
        timer = self._timers.pop(timer_id, None)
        if timer is None:
            return False
        if timer.level >= 0:  # heaps drop cancelled timers lazily: they are no longer in _timers
            self._unslot(timer)
        return True

    def advance(self, now: datetime) -> list[Fired]:
        """Every pending timer with ``due <= now``, ordered by (due, timer_id), removed as it fires."""
        _require_aware(now, "now")
        now_us = (now - self._start) // _MICRO
        target = now_us // self._tick_us
        while self._tick < target:
            self._move_towards(target)
        fired: list[Fired] = []
        while self._near and self._near[0][0] <= now_us:
            timer = heapq.heappop(self._near)[3]
            if self._timers.get(timer.timer_id) is timer:
                del self._timers[timer.timer_id]
                fired.append(Fired(timer.timer_id, timer.due, timer.payload))
        return fired

    def next_due(self) -> datetime | None:
        """The earliest pending due time, so that the caller knows how long it may sleep."""
        best = self._heap_top(self._near)
        for level in range(self._levels):
            bucket = self._first_bucket(level)
            if bucket is None or (best is not None and bucket * self._spans[level] * self._tick_us > best.due_us):
                continue
            timers = self._wheel[level][bucket % self._size]
            assert timers
            first = min(timers, key=lambda t: t.due_us)
            best = first if best is None or first.due_us < best.due_us else best
        far = self._heap_top(self._far)
        if far is not None and (best is None or far.due_us < best.due_us):
            best = far
        return None if best is None else best.due

    def pending(self) -> Iterator[Fired]:
        """Every pending timer, ordered by (due, timer_id): for snapshots."""
        for timer in sorted(self._timers.values(), key=lambda t: (t.due_us, t.timer_id)):
            yield Fired(timer.timer_id, timer.due, timer.payload)

    # -- placement ---------------------------------------------------------------------------

    def _place(self, timer: _Timer) -> None:
        tick = timer.due_us // self._tick_us
        if tick <= self._tick:
            self._push(self._near, timer, _NEAR)
            return
        for level, span in enumerate(self._spans):
            bucket = tick // span
            if bucket - self._tick // span < self._size:
                self._slot(timer, level, bucket % self._size)
                return
        self._push(self._far, timer, _FAR)

    def _push(self, heap: list[_HeapItem], timer: _Timer, level: int) -> None:
        timer.level = level
        heapq.heappush(heap, (timer.due_us, timer.timer_id, next(self._seq), timer))
        if level == _FAR and len(heap) > 64 and len(heap) > 2 * len(self._timers):
            heap[:] = [item for item in heap if self._timers.get(item[1]) is item[3]]
            heapq.heapify(heap)  # many re-scheduled far timers left stale entries behind

    def _slot(self, timer: _Timer, level: int, slot: int) -> None:
        timers = self._wheel[level][slot]
        if timers is None:
            timers = self._wheel[level][slot] = set()
        timers.add(timer)
        timer.level, timer.slot = level, slot
        self._counts[level] += 1

    def _unslot(self, timer: _Timer) -> None:
        timers = self._wheel[timer.level][timer.slot]
        assert timers is not None
        timers.discard(timer)
        if not timers:
            self._wheel[timer.level][timer.slot] = None
        self._counts[timer.level] -= 1

    # -- moving time ---------------------------------------------------------------------------

    def _move_towards(self, target: int) -> None:
        """Process the next tick that has work, or jump straight to ``target`` when none comes first."""
        if target - self._tick <= _STEP_LIMIT:
            self._step(self._tick + 1)
            return
        event = self._next_event()
        if event is None or event > target:
            self._tick = target
        else:
            self._step(event)

    def _step(self, tick: int) -> None:
        """Make ``tick`` current: cascade the buckets that start at it, release its timers."""
        self._tick = tick
        for level in range(self._levels - 1, -1, -1):
            span = self._spans[level]
            if tick % span or not self._counts[level]:
                continue
            slot = (tick // span) % self._size
            timers = self._wheel[level][slot]
            if timers is None:
                continue
            self._wheel[level][slot] = None
            self._counts[level] -= len(timers)
            for timer in timers:
                self._place(timer)
        self._pull_far()

    def _pull_far(self) -> None:
        top_span = self._spans[-1]
        while self._far:
            due_us, timer_id, _, timer = self._far[0]
            if self._timers.get(timer_id) is not timer:
                heapq.heappop(self._far)
            elif (due_us // self._tick_us) // top_span - self._tick // top_span < self._size:
                heapq.heappop(self._far)
                self._place(timer)
            else:
                return

    def _next_event(self) -> int | None:
        """The first tick after the current one at which an occupied bucket starts."""
        ticks = [bucket * self._spans[level] for level in range(self._levels)
                 if (bucket := self._first_bucket(level)) is not None]
        far = self._heap_top(self._far)
        if far is not None:
            top_span = self._spans[-1]
            ticks.append(max(self._tick + 1, ((far.due_us // self._tick_us) // top_span - self._size + 1) * top_span))
        return min(ticks, default=None)

    def _first_bucket(self, level: int) -> int | None:
        """The first occupied bucket of a level (absolute number); all lie within one turn ahead."""
        if not self._counts[level]:
            return None
        current = self._tick // self._spans[level]
        slots = self._wheel[level]
        for bucket in range(current + 1, current + self._size):
            if slots[bucket % self._size] is not None:
                return bucket
        raise AssertionError("level count and slots disagree")

    def _heap_top(self, heap: list[_HeapItem]) -> _Timer | None:
        while heap and self._timers.get(heap[0][1]) is not heap[0][3]:
            heapq.heappop(heap)
        return heap[0][3] if heap else None


def _require_aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime")

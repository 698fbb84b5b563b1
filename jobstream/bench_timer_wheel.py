"""Micro-benchmark of the timer wheel (not a test): with the other benches, outside the pure core, since
it reads the clock (the wheel itself never does)."""

from __future__ import annotations

import sys
import time
import tracemalloc
from datetime import UTC, datetime, timedelta

from jobstream.core.timer_wheel import TimerWheel

T0 = datetime(2026, 1, 1, tzinfo=UTC)
STEPS = 6_000  # one minute of 10 ms advances


def bench_wheel(n: int = 100_000) -> dict[str, float]:
    """Schedule n timers spread over an hour, then advance in 10 ms steps through one minute.

    Rates are measured untraced; memory on a second, traced build. ``bytes_per_timer`` is what
    the wheel adds per timer (ids and due times allocated beforehand); ``bytes_per_timer_total``
    also counts those ids and datetimes, i.e. the processor's cost of one pending timer.
    """
    ids = [f"job-{i:08d}:fire" for i in range(n)]
    spread_us = 3_600_000_000 // max(n, 1)
    dues = [T0 + timedelta(microseconds=(i * 7919 % n) * spread_us + i % 1000) for i in range(n)]
    wheel, scheduled_s = _build(ids, dues)
    fired = 0
    began = time.perf_counter()
    for step in range(1, STEPS + 1):
        fired += len(wheel.advance(T0 + timedelta(milliseconds=10 * step)))
    advanced_s = time.perf_counter() - began
    tracemalloc.start()
    traced, _ = _build(ids, dues)
    wheel_bytes, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del traced
    inputs_bytes = sum(sys.getsizeof(timer_id) + sys.getsizeof(due) for timer_id, due in zip(ids, dues, strict=True))
    return {
        "n": n,
        "schedule_per_s": n / scheduled_s,
        "advance_per_s": STEPS / advanced_s,
        "fired": fired,
        "ops_per_s": (n + STEPS) / (scheduled_s + advanced_s),
        "bytes_per_timer": wheel_bytes / max(n, 1),
        "bytes_per_timer_total": (wheel_bytes + inputs_bytes) / max(n, 1),
    }


def _build(ids: list[str], dues: list[datetime]) -> tuple[TimerWheel, float]:
    wheel = TimerWheel(start=T0)
    began = time.perf_counter()
    for timer_id, due in zip(ids, dues, strict=True):
        wheel.schedule(timer_id, due, None)
    return wheel, time.perf_counter() - began

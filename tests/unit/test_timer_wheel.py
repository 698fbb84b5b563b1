"""The timing wheel against a plain dict model: exactly once, never early, never late, in order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jobstream.bench_timer_wheel import bench_wheel
from jobstream.core.timer_wheel import Fired, TimerWheel

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def ms(n: int) -> timedelta:
    return timedelta(milliseconds=n)


# Small wheels overflow and cascade after a few ticks; the default one is the production shape.
shapes = st.sampled_from([(10, 256, 4), (10, 4, 2), (1, 2, 3), (1000, 8, 1), (7, 16, 3)])
# Offsets in microseconds from T0: the past, sub-tick, seconds, hours, and far beyond any top level.
offsets = st.one_of(
    st.integers(-5_000_000, 0),
    st.integers(0, 50_000),
    st.integers(0, 3_600_000_000),
    st.integers(0, 400 * 86_400_000_000),
    st.integers(0, 3_000).map(lambda k: k * 1_000),  # on tick boundaries of 1 ms and 10 ms wheels
)
steps = st.one_of(st.integers(0, 20_000), st.integers(0, 10_000_000), st.integers(0, 90 * 86_400_000_000),
                  st.integers(0, 300).map(lambda k: k * 10_000))


def at(offset_us: int) -> datetime:
    return T0 + timedelta(microseconds=offset_us)


@settings(max_examples=300, deadline=None)
@given(shapes, st.lists(offsets, max_size=60), st.lists(steps, min_size=1, max_size=40))
def test_every_timer_fires_once_not_early_not_late(shape: tuple[int, int, int], dues: list[int],
                                                   advances: list[int]) -> None:
    tick_ms, slots, levels = shape
    wheel = TimerWheel(tick_ms, slots, levels, start=T0)
    for index, due in enumerate(dues):
        wheel.schedule(f"t{index}", at(due), index)
    fired_at: dict[str, int] = {}
    now = 0
    for step in advances:
        now += step
        fired = wheel.advance(at(now))
        assert fired == sorted(fired, key=lambda f: (f.due, f.timer_id))
        for timer in fired:
            assert timer.timer_id not in fired_at  # exactly once
            assert timer.due <= at(now)  # never early
            fired_at[timer.timer_id] = now
    for index, due in enumerate(dues):
        timer_id = f"t{index}"
        if due <= now:  # due by the last advance: fired at the first advance at or after its due time
            first = next(total for total in _running_sums(advances) if total >= due)
            assert fired_at[timer_id] == first
        else:
            assert timer_id not in fired_at
    assert len(wheel) == sum(1 for due in dues if due > now)


def _running_sums(values: list[int]) -> list[int]:
    total, sums = 0, []
    for value in values:
        total += value
        sums.append(total)
    return sums


operations = st.lists(
    st.one_of(
        st.tuples(st.just("schedule"), st.integers(0, 7), offsets),
        st.tuples(st.just("cancel"), st.integers(0, 7), st.just(0)),
        st.tuples(st.just("advance"), st.just(0), steps),
    ),
    max_size=80,
)


@settings(max_examples=300, deadline=None)
@given(shapes, operations)
def test_matches_a_dict_model(shape: tuple[int, int, int], ops: list[tuple[str, int, int]]) -> None:
    """Interleaved schedule / re-schedule / cancel / advance behave like a dict of due times."""
    tick_ms, slots, levels = shape
    wheel = TimerWheel(tick_ms, slots, levels, start=T0)
    model: dict[str, tuple[datetime, Any]] = {}
    now = 0
    for kind, key, value in ops:
        timer_id = f"t{key}"
        if kind == "schedule":
            wheel.schedule(timer_id, at(value), value)
            model[timer_id] = (at(value), value)
        elif kind == "cancel":
            assert wheel.cancel(timer_id) == (model.pop(timer_id, None) is not None)
        else:
            now += value
            expected = sorted((due, tid, payload) for tid, (due, payload) in model.items() if due <= at(now))
            assert wheel.advance(at(now)) == [Fired(tid, due, payload) for due, tid, payload in expected]
            for _, tid, _ in expected:
                del model[tid]
        assert len(wheel) == len(model)
        assert wheel.next_due() == min((due for due, _ in model.values()), default=None)
        assert list(wheel.pending()) == [Fired(tid, due, payload) for due, tid, payload
                                         in sorted((due, tid, payload) for tid, (due, payload) in model.items())]


def test_never_fires_before_due_within_a_tick() -> None:
    wheel = TimerWheel(tick_ms=10, start=T0)
    wheel.schedule("a", T0 + timedelta(microseconds=5_500), "x")
    assert wheel.advance(T0 + ms(5)) == []  # its 10 ms tick is reached, its due time is not
    assert wheel.advance(T0 + timedelta(microseconds=5_499)) == []
    assert wheel.advance(T0 + timedelta(microseconds=5_500)) == [Fired("a", T0 + timedelta(microseconds=5_500), "x")]
    assert wheel.advance(T0 + ms(100)) == []


def test_past_due_fires_on_next_advance() -> None:
    wheel = TimerWheel(start=T0)
    wheel.advance(T0 + timedelta(hours=1))
    wheel.schedule("late", T0, 1)
    wheel.schedule("before-start", T0 - timedelta(days=1), 2)
    assert [f.timer_id for f in wheel.advance(T0 + timedelta(hours=1))] == ["before-start", "late"]


def test_cancel_and_reschedule() -> None:
    wheel = TimerWheel(start=T0)
    wheel.schedule("a", T0 + ms(50), 1)
    wheel.schedule("b", T0 + timedelta(days=900), 2)  # overflow heap
    assert wheel.cancel("a") and wheel.cancel("b")
    assert not wheel.cancel("a") and not wheel.cancel("never")
    wheel.schedule("c", T0 + ms(50), "old")
    wheel.schedule("c", T0 + ms(500), "new")  # replaces: fires once, late, with the new payload
    assert len(wheel) == 1
    assert wheel.advance(T0 + ms(100)) == []
    assert wheel.advance(T0 + ms(500)) == [Fired("c", T0 + ms(500), "new")]
    wheel.schedule("c", T0 + ms(600), "again")  # an id that already fired may come back
    assert wheel.advance(T0 + timedelta(days=1000)) == [Fired("c", T0 + ms(600), "again")]
    assert len(wheel) == 0 and wheel.next_due() is None


def test_big_jump_visits_occupied_buckets_only(monkeypatch: pytest.MonkeyPatch) -> None:
    wheel = TimerWheel(tick_ms=10, start=T0)
    dues = [T0 + timedelta(hours=7 * i, seconds=i) for i in range(200)]  # over ~58 days, past level 2
    dues.append(T0 + timedelta(days=700))  # beyond the top level
    for index, due in enumerate(dues):
        wheel.schedule(f"t{index:03d}", due)
    stepped: list[int] = []
    original = TimerWheel._step

    def counting_step(self: TimerWheel, tick: int) -> None:
        stepped.append(tick)
        original(self, tick)

    monkeypatch.setattr(TimerWheel, "_step", counting_step)
    fired = wheel.advance(T0 + timedelta(days=60))
    assert [f.due for f in fired] == dues[:-1]
    assert len(stepped) < 2_000  # not the 518 million ticks in 60 days
    assert wheel.next_due() == dues[-1]
    assert [f.due for f in wheel.advance(T0 + timedelta(days=701))] == dues[-1:]


def test_timer_on_the_tick_after_a_jump() -> None:
    wheel = TimerWheel(tick_ms=10, start=T0)
    wheel.schedule("a", T0 + ms(10_010))
    assert wheel.advance(T0 + ms(10_000)) == []  # jumps over empty ticks, stops short of a's tick
    assert wheel.advance(T0 + ms(10_010)) == [Fired("a", T0 + ms(10_010), None)]


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        TimerWheel(start=datetime(2026, 1, 1))
    wheel = TimerWheel(start=T0)
    with pytest.raises(ValueError, match="timezone-aware"):
        wheel.schedule("a", datetime(2026, 1, 1), None)


def test_other_zones_are_the_same_instant() -> None:
    wheel = TimerWheel(start=T0)
    due = datetime(2026, 1, 1, 1, 0, tzinfo=UTC).astimezone(ZoneInfo("Asia/Kolkata"))
    wheel.schedule("a", due)
    assert wheel.advance(T0 + timedelta(minutes=59)) == []
    assert wheel.advance(T0 + timedelta(hours=1)) == [Fired("a", due, None)]


def test_bench_wheel_runs() -> None:
    result = bench_wheel(2_000)
    assert result["fired"] > 0 and result["bytes_per_timer"] > 0 and result["schedule_per_s"] > 0

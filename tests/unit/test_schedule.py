"""When schedules fire: cron in time zones across DST, intervals, one-shots, misfires, overlap.

Expected instants are worked out by hand from the zones' rules (2026: Paris CET +01 / CEST +02,
spring forward 03-29 at 01:00Z, fall back 10-25 at 01:00Z; New York EST -05 / EDT -04, spring
forward 03-08 at 07:00Z, fall back 11-01 at 06:00Z; Kolkata +05:30 all year), never from the code.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jobstream.core.schedule import (
    MAX_LISTED,
    MisfireDecision,
    due_fires,
    misfire_decisions,
    next_fire,
    overlap_decision,
    parse_every,
    plan_fires,
    prev_fire,
    validate_schedule,
)
from jobstream.schemas import ConcurrencyPolicy, MisfirePolicy, Schedule, SkipReason

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def z(text: str) -> datetime:
    """An ISO instant written with Z."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


CRON_CASES = [
    # (expression, zone, after, expected next fire)
    ("*/15 * * * *", "UTC", "2026-01-01T10:07:00Z", "2026-01-01T10:15:00Z"),
    ("0 9 * * 1-5", "UTC", "2026-01-02T09:00:00Z", "2026-01-05T09:00:00Z"),  # Friday 09:00 -> Monday
    ("0 0 1 * *", "UTC", "2026-01-31T12:00:00Z", "2026-02-01T00:00:00Z"),
    ("0 0 29 2 *", "UTC", "2026-03-01T00:00:00Z", "2028-02-29T00:00:00Z"),
    ("0 9 * * *", "Europe/Paris", "2026-01-15T00:00:00Z", "2026-01-15T08:00:00Z"),
    ("0 9 * * *", "Europe/Paris", "2026-07-01T00:00:00Z", "2026-07-01T07:00:00Z"),
    # Paris spring forward: 02:00-02:59 local do not exist on 2026-03-29.
    ("30 2 * * *", "Europe/Paris", "2026-03-28T12:00:00Z", "2026-03-29T01:00:00Z"),  # once, at 03:00 local
    ("30 2 * * *", "Europe/Paris", "2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"),
    ("0 2 * * *", "Europe/Paris", "2026-03-28T12:00:00Z", "2026-03-29T01:00:00Z"),
    ("*/15 2 * * *", "Europe/Paris", "2026-03-29T01:00:00Z", "2026-03-30T00:00:00Z"),  # 4 skipped times, 1 fire
    ("30 1 * * *", "Europe/Paris", "2026-03-28T12:00:00Z", "2026-03-29T00:30:00Z"),
    ("30 3 * * *", "Europe/Paris", "2026-03-28T12:00:00Z", "2026-03-29T01:30:00Z"),
    # Paris fall back: 02:00-02:59 local happen twice on 2026-10-25 (00:00-00:59Z, then 01:00-01:59Z).
    ("30 2 * * *", "Europe/Paris", "2026-10-24T12:00:00Z", "2026-10-25T00:30:00Z"),
    ("30 2 * * *", "Europe/Paris", "2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"),  # not again at 01:30Z
    ("30 2 * * *", "Europe/Paris", "2026-10-26T01:30:00Z", "2026-10-27T01:30:00Z"),
    ("0 3 * * *", "Europe/Paris", "2026-10-24T12:00:00Z", "2026-10-25T02:00:00Z"),
    # New York spring forward: 02:00-02:59 local do not exist on 2026-03-08.
    ("30 2 * * *", "America/New_York", "2026-03-07T12:00:00Z", "2026-03-08T07:00:00Z"),  # 03:00 EDT
    ("30 2 * * *", "America/New_York", "2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z"),
    ("0 9 * * *", "America/New_York", "2026-03-07T15:00:00Z", "2026-03-08T13:00:00Z"),
    # New York fall back: 01:00-01:59 local happen twice on 2026-11-01 (05:00-05:59Z, 06:00-06:59Z).
    ("30 1 * * *", "America/New_York", "2026-10-31T12:00:00Z", "2026-11-01T05:30:00Z"),
    ("30 1 * * *", "America/New_York", "2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"),  # not at 06:30Z
    ("0 0 * * *", "America/New_York", "2026-11-01T03:00:00Z", "2026-11-01T04:00:00Z"),
    ("0 9 * * *", "Asia/Kolkata", "2026-03-08T00:00:00Z", "2026-03-08T03:30:00Z"),
    ("30 23 * * *", "Asia/Kolkata", "2026-06-01T18:00:00Z", "2026-06-02T18:00:00Z"),
    # 6 fields: seconds first, as Quartz and Spring read them.
    ("*/20 * * * * *", "UTC", "2026-01-01T00:00:00Z", "2026-01-01T00:00:20Z"),
    ("*/10 * * * * *", "UTC", "2026-01-01T00:00:00Z", "2026-01-01T00:00:10Z"),  # every 10 s, not every second
    ("30 0 12 * * *", "UTC", "2026-01-01T12:00:30Z", "2026-01-02T12:00:30Z"),
    ("15 30 2 * * *", "Europe/Paris", "2026-03-28T12:00:00Z", "2026-03-29T01:00:00Z"),
    ("5 0 9 * * *", "Asia/Kolkata", "2026-03-08T00:00:00Z", "2026-03-08T03:30:05Z"),
    # Macros.
    ("@hourly", "UTC", "2026-01-01T10:20:00Z", "2026-01-01T11:00:00Z"),
    ("@daily", "Europe/Paris", "2026-07-01T00:00:00Z", "2026-07-01T22:00:00Z"),
    ("@midnight", "Asia/Kolkata", "2026-07-01T00:00:00Z", "2026-07-01T18:30:00Z"),
    ("@weekly", "UTC", "2026-01-01T00:00:00Z", "2026-01-04T00:00:00Z"),  # Thursday -> Sunday
    ("@monthly", "America/New_York", "2026-01-15T00:00:00Z", "2026-02-01T05:00:00Z"),
    ("@yearly", "UTC", "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z"),
]


@pytest.mark.parametrize(("expr", "zone", "after", "expected"), CRON_CASES)
def test_cron_next_fire(expr: str, zone: str, after: str, expected: str) -> None:
    schedule = Schedule(cron=expr, timezone=zone)
    fire = next_fire(schedule, z(after), T0)
    assert fire == z(expected)
    assert fire is not None and fire.tzinfo == UTC
    assert prev_fire(schedule, fire, T0) == fire


@pytest.mark.parametrize(("zone", "after", "expected"), [
    # Hourly jobs follow elapsed time: every hour through both Paris transitions, none lost or doubled.
    ("Europe/Paris", "2026-03-28T23:30:00Z",
     ["2026-03-29T00:00:00Z", "2026-03-29T01:00:00Z", "2026-03-29T02:00:00Z"]),  # 01:00 CET, 03:00, 04:00 CEST
    ("Europe/Paris", "2026-10-24T23:30:00Z",
     ["2026-10-25T00:00:00Z", "2026-10-25T01:00:00Z", "2026-10-25T02:00:00Z"]),  # 02:00 CEST, 02:00 CET, 03:00
    ("America/New_York", "2026-11-01T04:30:00Z",
     ["2026-11-01T05:00:00Z", "2026-11-01T06:00:00Z", "2026-11-01T07:00:00Z"]),  # 01:00 EDT, 01:00 EST, 02:00
    ("America/New_York", "2026-03-08T05:30:00Z",
     ["2026-03-08T06:00:00Z", "2026-03-08T07:00:00Z", "2026-03-08T08:00:00Z"]),  # 01:00 EST, 03:00, 04:00 EDT
])
def test_hourly_cron_across_dst(zone: str, after: str, expected: list[str]) -> None:
    schedule, fires, fire = Schedule(cron="0 * * * *", timezone=zone), [], z(after)
    for _ in expected:
        next_one = next_fire(schedule, fire, T0)
        assert next_one is not None
        fires.append(fire := next_one)
    assert fires == [z(text) for text in expected]


def test_cron_honours_start_and_end() -> None:
    schedule = Schedule(cron="0 * * * *", start_at=z("2026-01-01T05:00:00Z"), end_at=z("2026-01-01T07:00:00Z"))
    assert next_fire(schedule, T0, T0) == z("2026-01-01T05:00:00Z")  # start_at is inclusive
    assert next_fire(schedule, z("2026-01-01T06:00:00Z"), T0) == z("2026-01-01T07:00:00Z")  # end_at too
    assert next_fire(schedule, z("2026-01-01T07:00:00Z"), T0) is None
    assert prev_fire(schedule, z("2026-01-01T04:59:00Z"), T0) is None
    assert prev_fire(schedule, z("2026-01-02T00:00:00Z"), T0) == z("2026-01-01T07:00:00Z")


@pytest.mark.parametrize(("text", "seconds"), [
    ("5m", 300), ("30s", 30), ("2h", 7200), ("1d", 86400), ("1h30m", 5400), ("1.5h", 5400), ("500ms", 0.5),
    ("every 5 minutes", 300), ("every 2 hours", 7200), ("90 seconds", 90), ("every minute", 60),
    ("Every 1 Day", 86400), ("PT5M", 300), ("P1D", 86400), ("PT1H30M", 5400), ("P1W", 604800),
    ("P1DT12H", 129600), ("PT0.5S", 0.5), (" pt10s ", 10),
])
def test_parse_every(text: str, seconds: float) -> None:
    assert parse_every(text) == seconds


@pytest.mark.parametrize(("text", "message"), [
    ("", "not understood"), ("5", "not understood"), ("soon", "not understood"), ("-5m", "not understood"),
    ("5 parsecs", "unknown unit"), ("0s", "longer than zero"), ("every 0 minutes", "longer than zero"),
    ("PT0S", "longer than zero"), ("P", "ISO-8601"), ("PT", "ISO-8601"), ("P1DT", "ISO-8601"),
    ("PT5X", "ISO-8601"), ("P1M", "no fixed length"), ("P1Y2M", "no fixed length"),
])
def test_parse_every_refuses(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_every(text)


def test_interval_counts_from_the_anchor() -> None:
    schedule = Schedule(every_s=parse_every("5m"))
    anchor = z("2026-01-01T00:00:00Z")
    assert next_fire(schedule, anchor, anchor) == z("2026-01-01T00:05:00Z")  # creation itself never fires
    assert next_fire(schedule, z("2026-01-01T00:07:00Z"), anchor) == z("2026-01-01T00:10:00Z")
    assert next_fire(schedule, z("2026-01-01T00:10:00Z"), anchor) == z("2026-01-01T00:15:00Z")
    assert next_fire(schedule, z("2026-03-29T00:58:00Z"), anchor) == z("2026-03-29T01:00:00Z")  # UTC: no DST
    assert prev_fire(schedule, z("2026-01-01T00:14:59Z"), anchor) == z("2026-01-01T00:10:00Z")
    assert prev_fire(schedule, z("2025-12-31T23:59:00Z"), anchor) is None


def test_interval_counts_from_start_at_and_stops_at_end_at() -> None:
    schedule = Schedule(every_s=3600, start_at=z("2026-01-01T00:30:00Z"), end_at=z("2026-01-01T02:30:00Z"))
    created = z("2025-12-31T18:00:00Z")
    assert next_fire(schedule, created, created) == z("2026-01-01T00:30:00Z")
    assert next_fire(schedule, z("2026-01-01T00:30:00Z"), created) == z("2026-01-01T01:30:00Z")
    assert next_fire(schedule, z("2026-01-01T01:30:00Z"), created) == z("2026-01-01T02:30:00Z")
    assert next_fire(schedule, z("2026-01-01T02:30:00Z"), created) is None


def test_fractional_interval_is_exact() -> None:
    schedule = Schedule(every_s=1.1)
    # 365 days = 31,536,000 s = 28,669,090.9 steps of 1.1 s: the next is step 28,669,091, at 31,536,000.1 s
    assert next_fire(schedule, T0 + timedelta(days=365), T0) == T0 + timedelta(days=365, microseconds=100_000)


def test_one_shot() -> None:
    schedule = Schedule(at=datetime(2026, 5, 1, 14, 0, tzinfo=timezone(timedelta(hours=2))))
    assert next_fire(schedule, z("2026-05-01T11:00:00Z"), T0) == z("2026-05-01T12:00:00Z")
    assert next_fire(schedule, z("2026-05-01T11:00:00Z"), T0).tzinfo == UTC  # type: ignore[union-attr]
    assert next_fire(schedule, z("2026-05-01T12:00:00Z"), T0) is None
    assert prev_fire(schedule, z("2026-05-01T12:00:00Z"), T0) == z("2026-05-01T12:00:00Z")
    assert due_fires(schedule, None, z("2026-05-02T00:00:00Z"), T0) == [z("2026-05-01T12:00:00Z")]
    assert due_fires(schedule, z("2026-05-01T12:00:00Z"), z("2026-05-03T00:00:00Z"), T0) == []


# -- misfires: an every-minute schedule, last handled at 00:01, back at about 00:05 ----------------

MINUTES = [z(f"2026-01-01T00:0{m}:00Z") for m in (2, 3, 4, 5)]


def minutely(**fields: object) -> Schedule:
    return Schedule(every_s=60, **fields)  # type: ignore[arg-type]


def decide(schedule: Schedule, now: str, runs_so_far: int = 0) -> list[MisfireDecision]:
    return plan_fires(schedule, z("2026-01-01T00:01:00Z"), z(now), T0, runs_so_far)


def ran(decisions: list[MisfireDecision]) -> list[datetime]:
    return [d.due for d in decisions if d.run]


def test_due_fires_lists_the_downtime() -> None:
    assert due_fires(minutely(), z("2026-01-01T00:01:00Z"), z("2026-01-01T00:05:00.300Z"), T0) == MINUTES
    assert due_fires(minutely(), None, z("2026-01-01T00:02:00Z"), T0) == [z("2026-01-01T00:01:00Z"), MINUTES[0]]
    assert due_fires(minutely(), MINUTES[-1], MINUTES[-1], T0) == []


def test_misfire_skip_runs_only_what_is_due_now() -> None:
    decisions = decide(minutely(misfire=MisfirePolicy.SKIP), "2026-01-01T00:05:00.300Z")
    assert decisions == [MisfireDecision(due, False, SkipReason.MISFIRE) for due in MINUTES[:3]] + [
        MisfireDecision(MINUTES[3], True, None)]
    late = decide(minutely(misfire=MisfirePolicy.SKIP), "2026-01-01T00:05:30Z")
    assert ran(late) == [] and {d.reason for d in late} == {SkipReason.MISFIRE} and len(late) == 4


def test_misfire_run_once_runs_the_latest() -> None:
    decisions = decide(minutely(), "2026-01-01T00:05:30Z")  # run_once is the default
    assert ran(decisions) == [MINUTES[3]]
    assert [d.reason for d in decisions] == [SkipReason.MISFIRE] * 3 + [None]


def test_misfire_run_all_up_to_the_cap() -> None:
    assert ran(decide(minutely(misfire=MisfirePolicy.RUN_ALL), "2026-01-01T00:05:30Z")) == MINUTES
    capped = decide(minutely(misfire=MisfirePolicy.RUN_ALL, misfire_cap=2), "2026-01-01T00:05:30Z")
    assert capped == [MisfireDecision(MINUTES[0], False, SkipReason.MISFIRE),
                      MisfireDecision(MINUTES[1], False, SkipReason.MISFIRE),
                      MisfireDecision(MINUTES[2], True, None), MisfireDecision(MINUTES[3], True, None)]


def test_starting_deadline() -> None:
    decisions = decide(minutely(misfire=MisfirePolicy.RUN_ALL, starting_deadline_s=90), "2026-01-01T00:05:30Z")
    assert [(d.run, d.reason) for d in decisions] == [  # ages 210 s, 150 s, 90 s, 30 s
        (False, SkipReason.DEADLINE), (False, SkipReason.DEADLINE), (True, None), (True, None)]
    too_late = decide(minutely(starting_deadline_s=10), "2026-01-01T00:05:30Z")
    assert ran(too_late) == [] and too_late[-1] == MisfireDecision(MINUTES[3], False, SkipReason.DEADLINE)


def test_max_runs_ends_the_schedule() -> None:
    schedule = minutely(misfire=MisfirePolicy.RUN_ALL, max_runs=5)
    assert decide(schedule, "2026-01-01T00:05:30Z", runs_so_far=3) == [
        MisfireDecision(MINUTES[0], True, None), MisfireDecision(MINUTES[1], True, None)]
    assert decide(schedule, "2026-01-01T00:05:30Z", runs_so_far=5) == []
    assert ran(decide(minutely(max_runs=1), "2026-01-01T00:05:30Z")) == [MINUTES[3]]


def test_long_outage_lists_the_most_recent_fires_only() -> None:
    every_second = Schedule(every_s=1, misfire=MisfirePolicy.RUN_ALL, misfire_cap=10)
    fires = due_fires(every_second, T0, T0 + timedelta(days=1), T0)
    assert len(fires) == MAX_LISTED
    assert fires[0] == T0 + timedelta(days=1, seconds=-MAX_LISTED + 1) and fires[-1] == T0 + timedelta(days=1)
    decisions = misfire_decisions(every_second, fires, T0 + timedelta(days=1))
    assert ran(decisions) == fires[-10:]


def test_due_fires_across_fall_back() -> None:
    hourly = Schedule(cron="0 * * * *", timezone="Europe/Paris")
    assert due_fires(hourly, z("2026-10-24T23:00:00Z"), z("2026-10-25T02:30:00Z"), T0) == [
        z("2026-10-25T00:00:00Z"), z("2026-10-25T01:00:00Z"), z("2026-10-25T02:00:00Z")]
    daily = Schedule(cron="30 2 * * *", timezone="Europe/Paris")
    assert due_fires(daily, z("2026-10-24T00:30:00Z"), z("2026-10-26T12:00:00Z"), T0) == [
        z("2026-10-25T00:30:00Z"), z("2026-10-26T01:30:00Z")]
    assert due_fires(daily, z("2026-03-28T00:00:00Z"), z("2026-03-30T12:00:00Z"), T0) == [
        z("2026-03-28T01:30:00Z"), z("2026-03-29T01:00:00Z"), z("2026-03-30T00:30:00Z")]


@pytest.mark.parametrize(("policy", "running", "expected"), [
    (ConcurrencyPolicy.ALLOW, False, ("run", None)),
    (ConcurrencyPolicy.ALLOW, True, ("run", None)),
    (ConcurrencyPolicy.FORBID, False, ("run", None)),
    (ConcurrencyPolicy.FORBID, True, ("skip", SkipReason.OVERLAP)),
    (ConcurrencyPolicy.REPLACE, False, ("run", None)),
    (ConcurrencyPolicy.REPLACE, True, ("replace", None)),
])
def test_overlap_decision(policy: ConcurrencyPolicy, running: bool, expected: tuple[str, SkipReason | None]) -> None:
    assert overlap_decision(policy, running) == expected


# -- validation ----------------------------------------------------------------------------------

@pytest.mark.parametrize("schedule", [
    Schedule(cron="*/5 * * * *"), Schedule(cron="0 9 * * 1-5", timezone="America/New_York"),
    Schedule(cron="* * * * * */10"), Schedule(cron="@daily", timezone="Asia/Kolkata"), Schedule(cron="@Hourly"),
    Schedule(every_s=60, start_at=T0, end_at=T0 + timedelta(days=1), max_runs=3),
    Schedule(at=T0, misfire=MisfirePolicy.SKIP, misfire_cap=1, starting_deadline_s=30),
])
def test_valid_schedules(schedule: Schedule) -> None:
    assert validate_schedule(schedule) == []


@pytest.mark.parametrize(("schedule", "field"), [
    (Schedule(), "schedule"),
    (Schedule(cron="* * * * *", every_s=60), "schedule"),
    (Schedule(cron="* * * *"), "schedule.cron"),
    (Schedule(cron="* * * * * * *"), "schedule.cron"),
    (Schedule(cron="61 * * * *"), "schedule.cron"),
    (Schedule(cron="@reboot"), "schedule.cron"),
    (Schedule(cron="0 0 30 2 *"), "schedule.cron"),
    (Schedule(cron="* * * * *", timezone="Mars/Olympus"), "schedule.timezone"),
    (Schedule(cron="* * * * *", timezone="localtime"), "schedule.timezone"),
    (Schedule(cron="* * * * *", timezone="../etc/passwd"), "schedule.timezone"),
    (Schedule(every_s=0), "schedule.every_s"),
    (Schedule(every_s=0.5), "schedule.every_s"),
    (Schedule(every_s=float("inf")), "schedule.every_s"),
    (Schedule(at=datetime(2026, 1, 1)), "schedule.at"),
    (Schedule(every_s=60, start_at=T0, end_at=T0), "schedule.end_at"),
    (Schedule(every_s=60, max_runs=0), "schedule.max_runs"),
    (Schedule(every_s=60, misfire_cap=0), "schedule.misfire_cap"),
    (Schedule(every_s=60, starting_deadline_s=0), "schedule.starting_deadline_s"),
])
def test_invalid_schedules(schedule: Schedule, field: str) -> None:
    assert [name for name, _ in validate_schedule(schedule)] == [field]


# -- properties ----------------------------------------------------------------------------------

EXPRESSIONS = ["0 * * * *", "*/20 * * * *", "30 2 * * *", "15 1 * * *", "0 2 * * *", "*/7 2,3 * * *",
               "0 0 * * 0", "45 23 L * *", "* * * * * */15", "@daily", "0 */2 * * *", "10,50 * * * *"]
TRANSITIONS = [  # (zone, an instant of a 2026 clock change)
    ("Europe/Paris", "2026-03-29T01:00:00Z"), ("Europe/Paris", "2026-10-25T01:00:00Z"),
    ("America/New_York", "2026-03-08T07:00:00Z"), ("America/New_York", "2026-11-01T06:00:00Z"),
    ("Australia/Lord_Howe", "2026-04-04T15:00:00Z"), ("Australia/Lord_Howe", "2026-10-03T15:30:00Z"),  # 30 min
    ("Asia/Kolkata", "2026-03-08T07:00:00Z"), ("UTC", "2026-03-29T01:00:00Z"),
]
# Within three hours of a clock change, where mistakes would hide, and anywhere in the year.
near_a_change = st.sampled_from(TRANSITIONS).flatmap(lambda change: st.tuples(
    st.just(change[0]),
    st.integers(-3 * 3600, 3 * 3600).map(lambda s: z(change[1]) + timedelta(seconds=s)),
))
anytime = st.tuples(st.sampled_from(["UTC", "Europe/Paris", "America/New_York", "Asia/Kolkata"]),
                    st.integers(0, 365 * 86400 * 10**6).map(lambda us: T0 + timedelta(microseconds=us)))


@settings(max_examples=500, deadline=None)
@given(st.sampled_from(EXPRESSIONS), st.one_of(near_a_change, anytime))
def test_cron_fires_strictly_increase_and_none_is_missed(expr: str, zone_and_after: tuple[str, datetime]) -> None:
    zone, after = zone_and_after
    schedule = Schedule(cron=expr, timezone=zone)
    for _ in range(6):
        fire = next_fire(schedule, after, T0)
        assert fire is not None and fire > after
        # no fire in between: the last fire before it is at or before `after`
        previous = prev_fire(schedule, fire - timedelta(microseconds=1), T0)
        assert previous is None or previous <= after
        assert prev_fire(schedule, fire, T0) == fire
        after = fire


@settings(max_examples=500, deadline=None)
@given(st.sampled_from(EXPRESSIONS), st.one_of(near_a_change, anytime))
def test_cron_prev_fire_is_the_last_one(expr: str, zone_and_bound: tuple[str, datetime]) -> None:
    zone, bound = zone_and_bound
    schedule = Schedule(cron=expr, timezone=zone)
    previous = prev_fire(schedule, bound, T0)
    assert previous is not None and previous <= bound
    following = next_fire(schedule, previous, T0)
    assert following is not None and following > bound


def test_every_twenty_minutes_through_fall_back() -> None:
    schedule, fires, fire = Schedule(cron="*/20 * * * *", timezone="Europe/Paris"), [], z("2026-10-24T23:50:00Z")
    for _ in range(7):
        fire = next_fire(schedule, fire, T0)  # type: ignore[assignment]
        fires.append(fire)
    assert fires == [z("2026-10-25T00:00:00Z") + timedelta(minutes=20 * k) for k in range(7)]
    assert next_fire(schedule, z("2026-10-25T00:35:00Z"), T0) == z("2026-10-25T00:40:00Z")


def test_prev_fire_inside_the_repeated_hour() -> None:
    daily = Schedule(cron="30 2 * * *", timezone="Europe/Paris")
    assert prev_fire(daily, z("2026-10-25T01:15:00Z"), T0) == z("2026-10-25T00:30:00Z")  # 02:15 local, 2nd time
    assert due_fires(daily, z("2026-10-24T12:00:00Z"), z("2026-10-25T01:15:00Z"), T0) == [z("2026-10-25T00:30:00Z")]


@settings(max_examples=200, deadline=None)
@given(st.floats(1, 90_000), st.integers(-10**6, 10**9), st.integers(0, 10**7))
def test_interval_fires_strictly_increase(every: float, after_s: int, anchor_s: int) -> None:
    schedule, anchor, after = Schedule(every_s=every), T0 + timedelta(seconds=anchor_s), T0 + timedelta(seconds=after_s)
    for _ in range(4):
        fire = next_fire(schedule, after, anchor)
        assert fire is not None and fire > after and fire >= anchor
        assert (fire - anchor) % timedelta(microseconds=round(every * 1e6)) == timedelta(0)
        after = fire

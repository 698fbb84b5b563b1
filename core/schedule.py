"""When a schedule fires, and what to do with fires missed while down, paused or still running.

Pure: ``after``, ``now`` and the schedule's ``anchor`` (its creation time) are passed in. Datetimes
are timezone-aware in and UTC out. A schedule fires on cron (evaluated in its time zone, see
``core/cron.py`` for daylight saving), every ``every_s`` seconds from its anchor, or once ``at``;
``start_at`` and ``end_at`` bound the fires, both inclusive.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Literal, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jobstream.core.cron import cron_next, cron_prev, cron_problem
from jobstream.core.durations import parse_every
from jobstream.schemas import ConcurrencyPolicy, MisfirePolicy, Schedule, SkipReason

__all__ = [
    "MIN_EVERY_S", "ON_TIME_S", "MAX_LISTED", "MisfireDecision", "OverlapAction", "Problem",
    "due_fires", "misfire_decisions", "next_fire", "overlap_decision", "parse_every", "plan_fires",
    "prev_fire", "validate_schedule",
]

MIN_EVERY_S = 1.0  # shorter intervals would flood the events topic (cron's finest grain is 1 s too)
MAX_EVERY_S = 10 * 366 * 86400.0  # ten years: longer is not a schedule, and overflows date maths
LATEST = datetime(9000, 1, 1, tzinfo=UTC)  # times past this overflow the date maths of a fire
ON_TIME_S = 1.0  # a fire handled within this of its due time is on time, not a misfire
MAX_LISTED = 1000  # missed fires listed one by one after an outage, at least (see due_fires)
_MICRO = timedelta(microseconds=1)
_HOST_ZONES = frozenset({"localtime", "posixrules"})  # files of the host, not IANA zones

Problem = tuple[str, str]
OverlapAction = Literal["run", "skip", "replace"]


class MisfireDecision(NamedTuple):
    """One due time and what happens to it: run, or skip with a reason."""

    due: datetime
    run: bool
    reason: SkipReason | None


def validate_schedule(schedule: Schedule) -> list[Problem]:
    """(field, problem) pairs, fields named as in a job spec (``schedule.cron``)."""
    problems: list[Problem] = []
    kinds = [value for value in (schedule.cron, schedule.every_s, schedule.at) if value is not None]
    if len(kinds) != 1:
        problems.append(("schedule", "exactly one of cron, every_s and at must be set"))
    if schedule.cron is not None and (problem := cron_problem(schedule.cron)):
        problems.append(("schedule.cron", problem))
    if not _is_zone(schedule.timezone):
        problems.append(("schedule.timezone", "must be an IANA time zone, like 'Europe/Paris' or 'UTC'"))
    if schedule.every_s is not None and not (math.isfinite(schedule.every_s) and schedule.every_s >= MIN_EVERY_S):
        problems.append(("schedule.every_s", f"must be at least {MIN_EVERY_S:g} second"))
    elif schedule.every_s is not None and schedule.every_s > MAX_EVERY_S:
        problems.append(("schedule.every_s", "must be at most ten years"))
    problems.extend(_validate_times(schedule))
    if schedule.max_runs is not None and not 1 <= schedule.max_runs <= 2**62:
        problems.append(("schedule.max_runs", "must be at least 1 (and below 2^62)"))
    if not 1 <= schedule.misfire_cap <= 2**31 - 1:
        problems.append(("schedule.misfire_cap", "must be at least 1"))
    if schedule.starting_deadline_s is not None and not schedule.starting_deadline_s > 0:
        problems.append(("schedule.starting_deadline_s", "must be positive"))
    return problems


def _validate_times(schedule: Schedule) -> list[Problem]:
    naive = [name for name in ("at", "start_at", "end_at")
             if (value := getattr(schedule, name)) is not None and value.utcoffset() is None]
    problems = [(f"schedule.{name}", "must include a time zone offset") for name in naive]
    problems += [(f"schedule.{name}", "must be before the year 9000") for name in ("at", "start_at", "end_at")
                 if name not in naive and (value := getattr(schedule, name)) is not None and value >= LATEST]
    start, end = schedule.start_at, schedule.end_at
    if start is not None and end is not None and not naive and end <= start:
        problems.append(("schedule.end_at", "must be after start_at"))
    return problems


def _is_zone(name: str) -> bool:
    if name in _HOST_ZONES:
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def next_fire(schedule: Schedule, after: datetime, anchor: datetime) -> datetime | None:
    """The first fire strictly after ``after``, in UTC; None once the schedule is over.

    ``anchor`` is the schedule's creation time: intervals count from start_at, else from it.
    """
    if schedule.start_at is not None and after < schedule.start_at:
        after = schedule.start_at - _MICRO  # start_at itself may fire
    fire = _next_unbounded(schedule, after, anchor)
    if fire is None or (schedule.end_at is not None and fire > schedule.end_at):
        return None
    return fire


def prev_fire(schedule: Schedule, at_or_before: datetime, anchor: datetime) -> datetime | None:
    """The last fire at or before ``at_or_before``, in UTC; None when there is none."""
    if schedule.end_at is not None and at_or_before > schedule.end_at:
        at_or_before = schedule.end_at
    fire = _prev_unbounded(schedule, at_or_before, anchor)
    if fire is None or (schedule.start_at is not None and fire < schedule.start_at):
        return None
    return fire


def _next_unbounded(schedule: Schedule, after: datetime, anchor: datetime) -> datetime | None:
    if schedule.cron is not None:
        return cron_next(schedule.cron, schedule.timezone, after)
    if schedule.every_s is not None:
        origin, step = _interval(schedule, anchor)
        steps = 0 if after < origin else (after - origin) // step + 1
        return origin + steps * step
    if schedule.at is not None and schedule.at > after:
        return schedule.at.astimezone(UTC)
    return None


def _prev_unbounded(schedule: Schedule, at_or_before: datetime, anchor: datetime) -> datetime | None:
    if schedule.cron is not None:
        return cron_prev(schedule.cron, schedule.timezone, at_or_before)
    if schedule.every_s is not None:
        origin, step = _interval(schedule, anchor)
        return None if at_or_before < origin else origin + (at_or_before - origin) // step * step
    if schedule.at is not None and schedule.at <= at_or_before:
        return schedule.at.astimezone(UTC)
    return None


def _interval(schedule: Schedule, anchor: datetime) -> tuple[datetime, timedelta]:
    """Where an interval schedule counts from, and its step (whole microseconds: exact maths)."""
    assert schedule.every_s is not None
    step = timedelta(microseconds=round(schedule.every_s * 1_000_000))
    if step <= timedelta(0):
        raise ValueError(f"every_s must be positive, got {schedule.every_s}")
    return (schedule.start_at or anchor).astimezone(UTC), step


def due_fires(schedule: Schedule, last_due: datetime | None, now: datetime, anchor: datetime,
              limit: int | None = None) -> list[datetime]:
    """Fires due in (max(last_due, anchor), now], oldest first.

    After a long outage of a frequent schedule only the most recent ``limit`` are listed
    (default: the larger of MAX_LISTED and misfire_cap): every policy skips older ones anyway,
    and one skip event each would flood the events topic.
    """
    # Nothing before the anchor: after a schedule change, due times of the old schedule are not missed.
    floor = max(last_due, anchor) if last_due is not None else anchor
    most = limit if limit is not None else max(MAX_LISTED, schedule.misfire_cap)
    fires: list[datetime] = []
    fire = prev_fire(schedule, now, anchor)
    while fire is not None and fire > floor and len(fires) < most:
        fires.append(fire)
        fire = prev_fire(schedule, fire - _MICRO, anchor)
    fires.reverse()
    return fires


def misfire_decisions(schedule: Schedule, due: list[datetime], now: datetime, runs_so_far: int = 0,
                      tolerance_s: float = ON_TIME_S) -> list[MisfireDecision]:
    """Which of the due fires (oldest first) run, and why the others are skipped.

    Fires within ``tolerance_s`` of now are on time and always candidates; of the missed ones the
    misfire policy picks: ``skip`` none, ``run_once`` the latest, ``run_all`` the latest
    ``misfire_cap`` (so the current period is never the one dropped). A candidate older than
    ``starting_deadline_s`` is skipped as ``deadline``. Once ``max_runs`` runs are reached the list
    stops: the schedule is over.
    """
    chosen = _candidates(schedule, due, now, tolerance_s)
    left = None if schedule.max_runs is None else schedule.max_runs - runs_so_far
    deadline = schedule.starting_deadline_s
    decisions: list[MisfireDecision] = []
    for index, fire in enumerate(due):
        if left is not None and left <= 0:
            break
        if index not in chosen:
            decisions.append(MisfireDecision(fire, False, SkipReason.MISFIRE))
        elif deadline is not None and (now - fire).total_seconds() > deadline:
            decisions.append(MisfireDecision(fire, False, SkipReason.DEADLINE))
        else:
            decisions.append(MisfireDecision(fire, True, None))
            left = None if left is None else left - 1
    return decisions


def _candidates(schedule: Schedule, due: list[datetime], now: datetime, tolerance_s: float) -> set[int]:
    on_time = {i for i, fire in enumerate(due) if (now - fire).total_seconds() <= tolerance_s}
    if schedule.misfire == MisfirePolicy.SKIP:
        return on_time
    if schedule.misfire == MisfirePolicy.RUN_ALL:
        return on_time | set(range(max(len(due) - schedule.misfire_cap, 0), len(due)))
    return on_time | ({len(due) - 1} if due else set())


def plan_fires(schedule: Schedule, last_due: datetime | None, now: datetime, anchor: datetime,
               runs_so_far: int = 0) -> list[MisfireDecision]:
    """``due_fires`` then ``misfire_decisions``: what a timer firing at ``now`` should do."""
    return misfire_decisions(schedule, due_fires(schedule, last_due, now, anchor), now, runs_so_far)


def overlap_decision(policy: ConcurrencyPolicy, previous_running: bool) -> tuple[OverlapAction, SkipReason | None]:
    """What a due run does while the previous one is still active: run beside it, skip, or replace it."""
    if not previous_running or policy == ConcurrencyPolicy.ALLOW:
        return "run", None
    if policy == ConcurrencyPolicy.FORBID:
        return "skip", SkipReason.OVERLAP
    return "replace", None

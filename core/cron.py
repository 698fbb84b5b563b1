"""Cron expressions evaluated in an IANA time zone, with daylight saving done the way users expect.

croniter (5.0.1) is unreliable across DST with zone-aware datetimes: on the spring-forward day it
returns wall times that do not exist (Paris 02:30 as 02:30+01:00, i.e. 03:30 local), and after
the fall-back day it drifts by an hour (Paris 03:30 instead of 02:30 on the next day). So it is
only asked for naive wall-clock times, which it gets right, and each wall time is mapped to
UTC here:

- a wall time skipped by spring-forward fires once, at the first instant after the gap
  (Paris "30 2 * * *" fires at 03:00 local on 2026-03-29);
- a wall time repeated by fall-back fires once, at its first occurrence, unless the expression
  runs every hour (hour field ``*``): that kind follows elapsed time, so it fires at both
  occurrences and keeps its spacing through the repeated hour (as Vixie cron does).

Expressions have 5 fields (minute hour day month weekday), 6 with seconds as the FIRST field
(second minute hour day month weekday, as Quartz and Spring read them, which is what most users
know; croniter puts seconds last, so the field moves before croniter sees it), or are one of the
macros below.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from croniter import CroniterBadCronError, CroniterBadDateError, croniter

MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
# No zone shifts its clock by more than this, nor twice within it: the window that a DST fold can
# reorder is looked up this far around the time asked about.
_SHIFT_WINDOW = timedelta(hours=3)
_ONE_SECOND = timedelta(seconds=1)
_FORMAT = ("5 fields (minute hour day month weekday), 6 with seconds first (second minute hour day month "
           "weekday), or @hourly/@daily/@weekly/@monthly/@yearly")
_PROBE_FROM = datetime(2000, 1, 1)


def cron_problem(expr: str) -> str | None:
    """Why ``expr`` is not a usable cron expression, or None when it is."""
    text = expr.strip()
    if text.startswith("@"):
        return None if text.lower() in MACROS else f"unknown macro {text!r}: must be {_FORMAT}"
    if len(text.split()) not in (5, 6) or not croniter.is_valid(_croniter_form(text)):
        return f"must be a cron expression of {_FORMAT}"
    try:
        croniter(_croniter_form(text), _PROBE_FROM).get_next(datetime)
    except (CroniterBadDateError, CroniterBadCronError):
        return "never matches a date (e.g. February 30th)"
    return None


def cron_next(expr: str, zone: str, after: datetime) -> datetime | None:
    """The first fire strictly after ``after`` (aware), in UTC; None if the expression never fires."""
    tz = ZoneInfo(zone)
    text, every_hour = _parsed(expr)
    fold = max(timedelta(0), _offset(after, tz) - _offset(after + _SHIFT_WINDOW, tz))
    walls = croniter(text, _wall(after, tz) - fold)
    best: datetime | None = None
    try:
        while True:
            instants = _instants(walls.get_next(datetime), tz, every_hour)
            best = min((t for t in instants if t > after and (best is None or t < best)), default=best)
            if best is not None and instants[0] >= best:  # later wall times only come later
                return best
    except CroniterBadDateError:
        return best


def cron_prev(expr: str, zone: str, at_or_before: datetime) -> datetime | None:
    """The last fire at or before ``at_or_before`` (aware), in UTC; None if there is none."""
    tz = ZoneInfo(zone)
    text, every_hour = _parsed(expr)
    fold = max(timedelta(0), _offset(at_or_before - _SHIFT_WINDOW, tz) - _offset(at_or_before, tz))
    walls = croniter(text, _wall(at_or_before, tz) + fold + _ONE_SECOND)
    best: datetime | None = None
    try:
        while True:
            instants = _instants(walls.get_prev(datetime), tz, every_hour)
            best = max((t for t in instants if t <= at_or_before and (best is None or t > best)), default=best)
            if best is not None and instants[-1] <= best:  # earlier wall times only come earlier
                return best
    except CroniterBadDateError:
        return best


@lru_cache(maxsize=4096)
def _parsed(expr: str) -> tuple[str, bool]:
    """The expression with macros expanded, and whether it fires every hour (hour field ``*``)."""
    text = expr.strip()
    text = _croniter_form(MACROS.get(text.lower(), text))
    return text, croniter(text, _PROBE_FROM).expanded[1] == ["*"]


def _croniter_form(text: str) -> str:
    """croniter reads a 6th field as seconds; ours come first."""
    fields = text.split()
    return " ".join(fields[1:] + fields[:1]) if len(fields) == 6 else text


def _instants(wall: datetime, tz: ZoneInfo, both_folds: bool) -> tuple[datetime, ...]:
    """The UTC instants a naive wall time fires at: one, or two in a fall-back fold if asked."""
    early = wall.replace(tzinfo=tz).astimezone(UTC)
    late = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
    if early == late:
        return (early,)
    if early < late:  # repeated by fall-back: fold=0 is the first occurrence
        return (early, late) if both_folds else (early,)
    return (_transition(late, early, tz),)  # skipped by spring-forward: fold=0 lands past the gap


def _transition(before: datetime, after: datetime, tz: ZoneInfo) -> datetime:
    """The first instant of the new offset, between an instant on each side of the change."""
    target = _offset(after, tz)
    low, high = int(before.timestamp()), int(after.timestamp())
    while high - low > 1:
        middle = (low + high) // 2
        if _offset(datetime.fromtimestamp(middle, UTC), tz) == target:
            high = middle
        else:
            low = middle
    return datetime.fromtimestamp(high, UTC)


def _offset(instant: datetime, tz: ZoneInfo) -> timedelta:
    offset = instant.astimezone(tz).utcoffset()
    assert offset is not None
    return offset


def _wall(instant: datetime, tz: ZoneInfo) -> datetime:
    return instant.astimezone(tz).replace(tzinfo=None)

"""The next fire times of a schedule, for a person to check before saving it: each in UTC and in
the schedule's zone, with the fires that come after a change of the zone's offset (DST) marked."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

from jobstream.core.schedule import next_fire
from jobstream.schemas import Schedule


class PreviewFire(NamedTuple):
    at: datetime  # UTC
    local: datetime  # the same instant in the schedule's zone
    offset_changed: bool  # the zone's UTC offset moved since the previous fire (or since ``after``)


def preview_fires(schedule: Schedule, after: datetime, anchor: datetime, count: int) -> list[PreviewFire]:
    """Up to ``count`` fires strictly after ``after`` (fewer when the schedule ends, or its
    ``max_runs`` is smaller); ``anchor`` is what an interval counts from when it has no start_at."""
    zone = ZoneInfo(schedule.timezone)
    limit = min(count, schedule.max_runs) if schedule.max_runs is not None else count
    fires: list[PreviewFire] = []
    previous: timedelta | None = after.astimezone(zone).utcoffset()
    cursor = after
    while len(fires) < limit and (fire := next_fire(schedule, cursor, anchor)) is not None:
        local = fire.astimezone(zone)
        fires.append(PreviewFire(fire, local, local.utcoffset() != previous))
        previous, cursor = local.utcoffset(), fire
    return fires

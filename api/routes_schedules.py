"""``GET /v1/schedules:preview``: the next fire times of a schedule before it is saved."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import AwareDatetime, BaseModel, ValidationError

from jobstream.api.problems import ApiProblem, field_error
from jobstream.api.schedule_in import ScheduleIn
from jobstream.api.views import PROBLEM
from jobstream.core.schedule_preview import preview_fires
from jobstream.schemas import Schedule

Param = Annotated[str | None, Query(max_length=200, pattern=r"^[^\x00]*$")]


class FireView(BaseModel):
    at: datetime  # UTC
    local: str  # ISO-8601 in the schedule's zone, with its offset
    dst_change: bool  # the zone's offset changed since the previous fire


class SchedulePreview(BaseModel):
    timezone: str
    fires: list[FireView]


def schedule_from_query(values: dict[str, Any]) -> ScheduleIn:
    """A schedule from query parameters, checked like a submitted one; a 422 naming the field otherwise."""
    try:
        return ScheduleIn.model_validate({k: v for k, v in values.items() if v not in (None, "")})
    except ValidationError as error:
        raise ApiProblem(422, "validation", "the schedule is not valid; see errors",
                         errors=[field_error(".".join(map(str, e["loc"])) or "schedule", e["msg"])
                                 for e in error.errors()]) from None


def preview(schedule: ScheduleIn, after: datetime, count: int) -> SchedulePreview:
    return fire_views(schedule.to_avro(), after, after, count)


def fire_views(schedule: Schedule, after: datetime, anchor: datetime, count: int) -> SchedulePreview:
    fires = preview_fires(schedule, after, anchor, count)
    return SchedulePreview(timezone=schedule.timezone, fires=[
        FireView(at=f.at, local=f.local.isoformat(), dst_change=f.offset_changed) for f in fires])


def schedules_router() -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["schedules"])

    @router.get("/schedules:preview", response_model=SchedulePreview, responses={422: PROBLEM})
    async def preview_schedule(cron: Param = None, every: Param = None, at: Param = None,
                               timezone: Annotated[str, Query(max_length=64)] = "UTC",
                               start_at: Param = None, end_at: Param = None,
                               max_runs: Annotated[int | None, Query(ge=1, le=2**62)] = None,
                               after: AwareDatetime | None = None,
                               count: Annotated[int, Query(ge=1, le=100)] = 10) -> SchedulePreview:
        """The next ``count`` fire times of a cron (``cron``), interval (``every``) or one-time
        (``at``) schedule in ``timezone``, after ``after`` (default: now), each in UTC and local
        time, with ``dst_change`` on a fire after a change of the zone's offset. Nothing is saved."""
        schedule = schedule_from_query({"cron": cron, "every": every, "at": at, "timezone": timezone,
                                        "start_at": start_at, "end_at": end_at, "max_runs": max_runs})
        return preview(schedule, (after or datetime.now(UTC)).astimezone(UTC), count)

    return router

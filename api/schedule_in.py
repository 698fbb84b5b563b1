"""The ``schedule`` of a job as the API accepts it: cron, an interval or one time, and policies.

Field problems are reported on the field (``schedule.cron``, ``schedule.every``); rules across
fields by ``core.schedule.validate_schedule``, the same rules the state processor applies.
"""

from __future__ import annotations

from datetime import UTC
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from jobstream.core.cron import cron_problem
from jobstream.core.durations import parse_every
from jobstream.core.schedule import validate_schedule
from jobstream.schemas import ConcurrencyPolicy, MisfirePolicy, Schedule

Time = Annotated[AwareDatetime, Field(strict=False, description="RFC 3339, with an offset")]


class ScheduleIn(BaseModel):
    """Exactly one of ``cron`` (5 fields, 6 with seconds first, or @hourly/@daily...), ``every`` ("5m",
    "every 2 hours", "PT5M") and ``at`` (one run); the others bound and tune a recurring schedule."""

    model_config = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False)

    cron: Annotated[str, Field(max_length=200, description="minute hour day month weekday; with 6 fields "
                                                           "seconds come first (Quartz, Spring)")] | None = None
    timezone: Annotated[str, Field(max_length=64)] = "UTC"
    every: Annotated[str | float, Field(union_mode="left_to_right")] | None = None
    at: Time | None = None
    start_at: Time | None = None
    end_at: Time | None = None
    max_runs: Annotated[int, Field(ge=1, le=2**62)] | None = None
    misfire: Literal["skip", "run_once", "run_all"] = "run_once"
    misfire_cap: Annotated[int, Field(ge=1, le=10_000)] = 100
    starting_deadline_s: Annotated[float, Field(gt=0)] | None = None
    concurrency: Literal["allow", "forbid", "replace"] = "allow"

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value is not None and (problem := cron_problem(value)):
            raise ValueError(problem)
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        for field, problem in validate_schedule(Schedule(every_s=60, timezone=value)):
            if field == "schedule.timezone":
                raise ValueError(problem)
        return value

    @field_validator("every")
    @classmethod
    def _every(cls, value: str | float | None) -> float | None:
        if value is None:
            return None
        seconds = float(value) if isinstance(value, int | float) else parse_every(value)
        if seconds < 1:
            raise ValueError("must be at least 1 second")
        return seconds

    @model_validator(mode="after")
    def _consistent(self) -> ScheduleIn:
        problems = [problem.replace("every_s", "every") for field, problem in validate_schedule(self.to_avro())
                    if field in ("schedule", "schedule.end_at", "schedule.at", "schedule.start_at",
                                 "schedule.every_s")]
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def to_avro(self) -> Schedule:
        return Schedule(
            cron=self.cron, timezone=self.timezone, every_s=float(self.every) if self.every is not None else None,
            at=_utc(self.at), start_at=_utc(self.start_at), end_at=_utc(self.end_at), max_runs=self.max_runs,
            misfire=MisfirePolicy(self.misfire), misfire_cap=self.misfire_cap,
            starting_deadline_s=self.starting_deadline_s, concurrency=ConcurrencyPolicy(self.concurrency),
        )


def _utc(value: AwareDatetime | None) -> AwareDatetime | None:
    return value.astimezone(UTC) if value is not None else None

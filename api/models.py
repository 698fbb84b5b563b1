"""Request bodies of the HTTP API, and their mapping onto the Avro ``JobSpec``.

Pydantic checks shapes and types (strictly: "5" is not a priority); ``core.validation`` then
checks the rules the state processor also enforces, so both answer with the same field names.
"""

from __future__ import annotations

import json
from datetime import UTC
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from jobstream.schemas import HttpTask, JobSpec, PythonTask, Requirements, RetryPolicy, Schedule, ShellTask
from jobstream.schemas.common import Jitter

YEAR_S = 365 * 24 * 3600.0
MAX_TEXT = 10_000


def _no_nul(value: str) -> str:
    # Postgres text and jsonb cannot hold NUL; refuse it here rather than fail downstream.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


Text = Annotated[str, AfterValidator(_no_nul), Field(max_length=MAX_TEXT)]
ShortText = Annotated[str, AfterValidator(_no_nul), Field(max_length=200)]
StrMap = dict[ShortText, Text]
Seconds = Annotated[float, Field(gt=0, le=YEAR_S)]


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False)


class ShellTaskIn(_Strict):
    """Run a process: exec ``argv``, or ``/bin/sh -c argv[0]`` when ``shell`` is true."""

    type: Literal["shell"]
    argv: Annotated[list[Text], Field(min_length=1, max_length=1000)]
    env: StrMap = Field(default_factory=dict)
    cwd: Text | None = None
    shell: bool = False

    def to_avro(self) -> ShellTask:
        return ShellTask(argv=list(self.argv), env=dict(self.env), cwd=self.cwd, shell=self.shell)


class HttpTaskIn(_Strict):
    """Make one HTTP request; success is judged by the status (any 2xx when none is listed)."""

    type: Literal["http"]
    method: ShortText = "GET"
    url: Text
    headers: StrMap = Field(default_factory=dict)
    body: Text | None = None
    timeout_s: Seconds | None = None
    expected_status: list[Annotated[int, Field(ge=100, le=599)]] = Field(default_factory=list)

    def to_avro(self) -> HttpTask:
        return HttpTask(method=self.method, url=self.url, headers=dict(self.headers), body=self.body,
                        timeout_s=self.timeout_s, expected_status=list(self.expected_status))


class PythonTaskIn(_Strict):
    """Call ``package.module:function(*args, **kwargs)`` on the worker."""

    type: Literal["python"]
    entrypoint: ShortText
    args: list[Any] = Field(default_factory=list)
    kwargs: dict[ShortText, Any] = Field(default_factory=dict)

    @field_validator("args", "kwargs")
    @classmethod
    def _strict_json(cls, value: Any) -> Any:
        json.dumps(value, allow_nan=False)  # NaN/Infinity parse in Python, but are not JSON
        return value

    def to_avro(self) -> PythonTask:
        return PythonTask(entrypoint=self.entrypoint, args_json=json.dumps(self.args, allow_nan=False),
                          kwargs_json=json.dumps(self.kwargs, allow_nan=False))


TaskIn = Annotated[ShellTaskIn | HttpTaskIn | PythonTaskIn, Field(discriminator="type")]


class RetryIn(_Strict):
    """Capped exponential backoff; ``max_attempts`` counts the first attempt."""

    max_attempts: Annotated[int, Field(ge=1, le=100)] = 1
    initial_backoff_s: Annotated[float, Field(ge=0, le=YEAR_S)] = 1.0
    max_backoff_s: Annotated[float, Field(ge=0, le=YEAR_S)] = 300.0
    multiplier: Annotated[float, Field(ge=1, le=100)] = 2.0
    jitter: Literal["full", "none"] = "full"
    retry_on_exit_codes: list[Annotated[int, Field(ge=-255, le=255)]] = Field(default_factory=list)
    retry_on_timeout: bool = True

    def to_avro(self) -> RetryPolicy:
        return RetryPolicy(max_attempts=self.max_attempts, initial_backoff_s=self.initial_backoff_s,
                           max_backoff_s=self.max_backoff_s, multiplier=self.multiplier,
                           jitter=Jitter(self.jitter), retry_on_exit_codes=list(self.retry_on_exit_codes),
                           retry_on_timeout=self.retry_on_timeout)


class RequirementsIn(_Strict):
    """Resources and labels a worker must offer."""

    cpu: Annotated[float, Field(ge=0, le=100_000)] = 0.0
    memory_mb: Annotated[int, Field(ge=0, le=2**40)] = 0
    labels: StrMap = Field(default_factory=dict)

    def to_avro(self) -> Requirements:
        return Requirements(cpu=self.cpu, memory_mb=self.memory_mb, labels=dict(self.labels))


class ScheduleIn(_Strict):
    """When to run: once, at ``at`` (an RFC 3339 time with its offset)."""

    at: Annotated[AwareDatetime, Field(strict=False, description="RFC 3339, with an offset")]

    def to_avro(self) -> Schedule:
        return Schedule(at=self.at.astimezone(UTC))


class JobSubmission(_Strict):
    """``POST /v1/jobs``: a job to run once, as soon as a worker is free."""

    name: ShortText
    queue: ShortText = "default"
    priority: Annotated[int, Field(ge=1, le=10, description="1 is the most urgent")] = 5
    task: TaskIn
    timeout_s: Seconds | None = None
    labels: StrMap = Field(default_factory=dict)
    idempotency_key: Annotated[ShortText, Field(min_length=1)] | None = None
    retry: RetryIn | None = None
    requirements: RequirementsIn | None = None
    schedule: ScheduleIn | None = None

    def to_spec(self) -> JobSpec:
        return JobSpec(
            name=self.name, queue=self.queue, priority=self.priority, task=self.task.to_avro(),
            timeout_s=self.timeout_s, labels=dict(self.labels), idempotency_key=self.idempotency_key,
            retry=self.retry.to_avro() if self.retry else None,
            requirements=self.requirements.to_avro() if self.requirements else None,
            schedule=self.schedule.to_avro() if self.schedule else None,
        )


class CancelRequest(_Strict):
    """``POST /v1/jobs/{job_id}/cancel``: an optional reason, kept in the audit trail."""

    reason: Annotated[Text, Field(min_length=1, max_length=1000)] = "cancelled by user"

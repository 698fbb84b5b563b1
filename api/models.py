"""Request bodies of the HTTP API, and their mapping onto the Avro ``JobSpec``.

Pydantic checks shapes and types (strictly: "5" is not a priority); ``core.validation`` then
checks the rules the state processor also enforces, so both answer with the same field names.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from jobstream.api.schedule_in import ScheduleIn
from jobstream.core.dag import BatchJob, Upstream
from jobstream.core.env_from import SECRET_ENV_PREFIX, with_secret_refs
from jobstream.core.patch import apply_patch
from jobstream.core.secret_book import SECRET_NAME_PATTERN
from jobstream.core.validation import validate_spec
from jobstream.schemas import (
    Dependency,
    HttpTask,
    JobPatch,
    JobSpec,
    PythonTask,
    Requirements,
    RetryPolicy,
    ShellTask,
    from_avro,
)
from jobstream.schemas.common import DependencyCondition, Jitter

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


def _no_secret_keys(env: dict[str, str]) -> dict[str, str]:
    # `secret:` keys carry env_from's references on the wire (core/env_from.py): never a plain variable.
    if any(key.startswith(SECRET_ENV_PREFIX) for key in env):
        raise ValueError(f"a name must not start with {SECRET_ENV_PREFIX!r}: use env_from (headers_from) for secrets")
    return env


PlainMap = Annotated[StrMap, AfterValidator(_no_secret_keys)]  # env or headers: `secret:` keys are refs only
EnvName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")]
HeaderName = Annotated[str, Field(pattern=r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,200}$")]  # an HTTP token (RFC 9110)
Seconds = Annotated[float, Field(gt=0, le=YEAR_S)]


class Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False)


# Per-job limits of a child process (RLIMIT_AS in MiB, RLIMIT_CPU in seconds).
MemoryLimit = Annotated[int, Field(ge=16, le=2**30, description="address-space limit, MiB")]
CpuLimit = Annotated[int, Field(ge=1, le=int(YEAR_S), description="CPU-time limit, seconds")]


class SecretRefIn(Strict):
    """A secret of the job's namespace, by name (set with PUT /v1/secrets/{name})."""

    secret: Annotated[str, Field(pattern=SECRET_NAME_PATTERN)]


def _env_from_field(what: str) -> Any:
    return Field(default_factory=dict, max_length=100,
                 description=f"{what} whose values are secrets: only the reference is stored; the worker that runs "
                             "the job gets the values, and masks them in its output and result")


def _with_refs(plain: dict[str, str], refs: dict[str, SecretRefIn]) -> dict[str, str]:
    """What a task carries of its secrets: references, in its env (or headers) under reserved keys."""
    return with_secret_refs(dict(plain), {name: ref.secret for name, ref in refs.items()})


class ShellTaskIn(Strict):
    """Run a process: exec ``argv``, or ``/bin/sh -c argv[0]`` when ``shell`` is true."""

    type: Literal["shell"]
    argv: Annotated[list[Text], Field(min_length=1, max_length=1000)]
    env: PlainMap = Field(default_factory=dict)
    env_from: dict[EnvName, SecretRefIn] = _env_from_field("variables")
    cwd: Text | None = None
    shell: bool = False
    memory_limit_mb: MemoryLimit | None = None
    cpu_limit_s: CpuLimit | None = None

    def to_avro(self) -> ShellTask:
        return ShellTask(argv=list(self.argv), env=_with_refs(self.env, self.env_from), cwd=self.cwd,
                         shell=self.shell, memory_limit_mb=self.memory_limit_mb, cpu_limit_s=self.cpu_limit_s)


class HttpTaskIn(Strict):
    """Make one HTTP request; success is judged by the status (any 2xx when none is listed)."""

    type: Literal["http"]
    method: ShortText = "GET"
    url: Text
    headers: PlainMap = Field(default_factory=dict)
    headers_from: dict[HeaderName, SecretRefIn] = _env_from_field("headers (Authorization, say)")
    body: Text | None = None
    timeout_s: Seconds | None = None
    expected_status: list[Annotated[int, Field(ge=100, le=599)]] = Field(default_factory=list)

    def to_avro(self) -> HttpTask:
        return HttpTask(method=self.method, url=self.url, headers=_with_refs(self.headers, self.headers_from),
                        body=self.body, timeout_s=self.timeout_s, expected_status=list(self.expected_status))


class PythonTaskIn(Strict):
    """Call ``package.module:function(*args, **kwargs)`` on the worker."""

    type: Literal["python"]
    entrypoint: ShortText
    args: list[Any] = Field(default_factory=list)
    kwargs: dict[ShortText, Any] = Field(default_factory=dict)
    env: PlainMap = Field(default_factory=dict, description="the child process's variables (isolation 'process')")
    env_from: dict[EnvName, SecretRefIn] = _env_from_field("variables of the child process (isolation 'process')")
    memory_limit_mb: MemoryLimit | None = None
    cpu_limit_s: CpuLimit | None = None
    isolation: Literal["process", "inline"] = Field(
        "process", description="'inline' runs the function in the worker's own process (no process start; no "
                               "memory or cpu limit; C code is interrupted only when it returns to Python)")

    @field_validator("args", "kwargs")
    @classmethod
    def _strict_json(cls, value: Any) -> Any:
        json.dumps(value, allow_nan=False)  # NaN/Infinity parse in Python, but are not JSON
        return value

    def to_avro(self) -> PythonTask:
        return PythonTask(entrypoint=self.entrypoint, args_json=json.dumps(self.args, allow_nan=False),
                          kwargs_json=json.dumps(self.kwargs, allow_nan=False),
                          memory_limit_mb=self.memory_limit_mb, cpu_limit_s=self.cpu_limit_s,
                          isolation=self.isolation, env=_with_refs(self.env, self.env_from))


TaskIn = Annotated[ShellTaskIn | HttpTaskIn | PythonTaskIn, Field(discriminator="type")]


class RetryIn(Strict):
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


class RequirementsIn(Strict):
    """Resources and labels a worker must offer."""

    cpu: Annotated[float, Field(ge=0, le=100_000)] = 0.0
    memory_mb: Annotated[int, Field(ge=0, le=2**40)] = 0
    labels: StrMap = Field(default_factory=dict)

    def to_avro(self) -> Requirements:
        return Requirements(cpu=self.cpu, memory_mb=self.memory_mb, labels=dict(self.labels))


def _bare_job_id(value: Any) -> Any:
    # "depends_on": ["<job_id>"] is short for [{"job_id": "<job_id>"}] (condition succeeded)
    return {"job_id": value} if isinstance(value, str) else value


class DependencyIn(Strict):
    """An upstream job; ``succeeded`` waits for its success, ``completed`` for any end."""

    job_id: Annotated[ShortText, Field(min_length=1)]
    condition: Literal["succeeded", "completed"] = "succeeded"


class BatchDependencyIn(Strict):
    """In a batch, an upstream is an existing job (``job_id``) or a job of the batch (``ref``)."""

    job_id: Annotated[ShortText, Field(min_length=1)] | None = None
    ref: Annotated[ShortText, Field(min_length=1)] | None = None
    condition: Literal["succeeded", "completed"] = "succeeded"

    @model_validator(mode="after")
    def _exactly_one(self) -> BatchDependencyIn:
        if (self.job_id is None) == (self.ref is None):
            raise ValueError("name exactly one of job_id and ref")
        return self

    def to_upstream(self) -> Upstream:
        return Upstream(ref=self.ref, job_id=self.job_id, condition=DependencyCondition(self.condition))


MAX_DEPENDENCIES = 10_000
Dependencies = Annotated[list[Annotated[DependencyIn, BeforeValidator(_bare_job_id)]],
                         Field(max_length=MAX_DEPENDENCIES)]
BatchDependencies = Annotated[list[Annotated[BatchDependencyIn, BeforeValidator(_bare_job_id)]],
                              Field(max_length=MAX_DEPENDENCIES)]


class _JobFields(Strict):
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

    def _spec(self, depends_on: list[Dependency]) -> JobSpec:
        return JobSpec(
            name=self.name, queue=self.queue, priority=self.priority, task=self.task.to_avro(),
            timeout_s=self.timeout_s, labels=dict(self.labels), idempotency_key=self.idempotency_key,
            retry=self.retry.to_avro() if self.retry else None,
            requirements=self.requirements.to_avro() if self.requirements else None,
            schedule=self.schedule.to_avro() if self.schedule else None, depends_on=depends_on,
        )


class JobSubmission(_JobFields):
    """``POST /v1/jobs``: a job to run once, as soon as a worker is free (and its upstreams allow)."""

    depends_on: Dependencies = Field(default_factory=list)
    upstreams_may_come_later: bool = Field(
        False, description="accept depends_on naming jobs not submitted yet (they will come later); the job "
                           "waits in pending and its waiting_reason names them. Without it, such a job is a 422.")

    def to_spec(self) -> JobSpec:
        return self._spec([Dependency(job_id=d.job_id, condition=DependencyCondition(d.condition))
                           for d in self.depends_on])


class BatchJobIn(_JobFields):
    """One job of ``POST /v1/jobs:batch``: a ``ref`` of the client's choosing names it in the batch."""

    ref: Annotated[ShortText, Field(min_length=1)] | None = None
    depends_on: BatchDependencies = Field(default_factory=list)

    def to_batch_job(self) -> BatchJob:
        return BatchJob(spec=self._spec([]), ref=self.ref,
                        depends_on=tuple(d.to_upstream() for d in self.depends_on))


MAX_BATCH = 10_000


class BatchRequest(Strict):
    """``POST /v1/jobs:batch``: up to 10,000 jobs, submitted atomically. Jobs are checked one by one
    (``BatchJobIn``), so that errors name ``jobs[i]``."""

    jobs: Annotated[list[dict[str, Any]], Field(min_length=1, max_length=MAX_BATCH)]
    idempotency_key: Annotated[ShortText, Field(min_length=1)] | None = None


class JobPatchIn(Strict):
    """``PATCH /v1/jobs/{job_id}``: fields to change before the job runs; absent ones stay."""

    priority: Annotated[int, Field(ge=1, le=10)] | None = None
    queue: ShortText | None = None
    env: PlainMap | None = Field(default=None, description="merged into a shell task's environment")
    timeout_s: Seconds | None = None
    retry: RetryIn | None = None
    schedule: ScheduleIn | None = None
    labels: StrMap | None = Field(default=None, description="replaces the labels")

    def to_patch(self) -> JobPatch:
        return JobPatch(priority=self.priority, queue=self.queue, env=dict(self.env) if self.env is not None else None,
                        timeout_s=self.timeout_s, retry=self.retry.to_avro() if self.retry else None,
                        schedule=self.schedule.to_avro() if self.schedule else None,
                        labels=dict(self.labels) if self.labels is not None else None)

    def problems(self) -> list[tuple[str, str]]:
        """The rules of ``validate_spec`` for the fields this patch sets (on a stand-in spec)."""
        if not self.model_fields_set:
            return [("body", "name at least one field to change")]
        patch = self.to_patch()
        stand_in = apply_patch(JobSpec(name="patch", task=ShellTask(argv=["true"])), patch)
        return [(field, detail) for field, detail in validate_spec(stand_in)
                if field.split(".")[0] in self.model_fields_set]


class CloneRequest(JobPatchIn):
    """``POST /v1/jobs/{job_id}/clone``: a new job from this one's spec, with these changes."""

    name: ShortText | None = None

    def apply(self, spec: JobSpec) -> JobSpec:
        """The clone's spec: the patch applied, a name and labels; no idempotency key and not a run
        of a recurring job (it is a new job of its own)."""
        spec = apply_patch(spec, self.to_patch())
        return replace(spec, name=self.name or spec.name, idempotency_key=None, run_of=None)


class BulkCancelRequest(Strict):
    """``POST /v1/jobs:cancel``: cancel every unfinished job that matches all the given filters."""

    queue: ShortText | None = None
    status: Literal["pending", "scheduled", "queued", "assigned", "running", "paused"] | None = None
    label: Annotated[ShortText, Field(pattern=r"^[^=]+=", description="KEY=VALUE")] | None = None
    name_prefix: Annotated[ShortText, Field(min_length=1)] | None = None
    reason: Annotated[Text, Field(min_length=1, max_length=1000)] = "cancelled in bulk"
    request_id: Annotated[ShortText, Field(min_length=1, description="retrying with it cancels nothing twice")] \
        | None = None

    @model_validator(mode="after")
    def _some_filter(self) -> BulkCancelRequest:
        if self.queue is None and self.status is None and self.label is None and self.name_prefix is None:
            raise ValueError("name at least one filter: queue, status, label or name_prefix")
        return self

    def label_pair(self) -> tuple[str, str] | None:
        if self.label is None:
            return None
        key, _, value = self.label.partition("=")
        return key, value


TIMES = {"schedule": ("at", "start_at", "end_at"), "run_of": ("due_at",)}  # timestamps in nested records


def spec_from_json(stored: dict[str, Any]) -> JobSpec:
    """The JobSpec of a read-model row's ``spec`` column (the projection's JSON form of the Avro
    datum: the task tagged by ``kind``, datetimes as ISO-8601). Raises ValueError if it is not one."""
    try:
        datum = dict(stored)
        task = dict(datum["task"])
        datum["task"] = (f"jobstream.common.{task.pop('kind')}", task)
        for record, names in TIMES.items():
            if datum.get(record) is not None:
                datum[record] = {key: datetime.fromisoformat(value) if key in names and value is not None else value
                                 for key, value in datum[record].items()}
        return from_avro(JobSpec, datum)
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise ValueError(f"not a stored job spec: {error!r}") from error


class CancelRequest(Strict):
    """``POST /v1/jobs/{job_id}/cancel``: an optional reason, kept in the audit trail."""

    reason: Annotated[Text, Field(min_length=1, max_length=1000)] = "cancelled by user"

"""Many commands at once, all or nothing: a batch of jobs (a DAG), and acting on every job a
filter selects (``BULK_OPERATIONS``: cancel, retry, redrive).

Everything is checked before anything is sent; then the commands go out in one Kafka
transaction (``TransactionalPublisher``), so a failure leaves nothing half-submitted.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Container
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from jobstream.api.acting import acting_envelope, acting_namespace
from jobstream.api.models import MAX_BATCH, BatchJobIn, BatchRequest
from jobstream.api.problems import ApiProblem, field_error
from jobstream.api.store import Filter, ReadModel
from jobstream.api.transactional import TransactionalPublisher, TransactionFailed
from jobstream.clock import new_job_id
from jobstream.core.dag import BatchJob, ResolvedBatch, ResolvedJob, resolve_batch
from jobstream.core.dependencies import dependency_problem
from jobstream.core.ids import job_id_for_idempotency_key
from jobstream.core.lifecycle import UNFINISHED, Status
from jobstream.core.quotas import shell_problem
from jobstream.core.scheduling import schedule_problem
from jobstream.core.validation import Problem, validate_spec
from jobstream.schemas import CancelJob, Command, CommandEnvelope, JobSpec, RedriveJob, RetryJob, SubmitJob

MAX_ERRORS = 100  # a 10,000-job batch with one mistake repeated should not answer megabytes
COMMAND_IDS = uuid.UUID("0b6c3f7e-2d1a-4f0e-8c6b-5a9e1d2c3b4a")


@dataclass(frozen=True)
class BatchAccepted:
    jobs: list[dict[str, Any]]  # {"ref", "job_id"} in request order
    refs: dict[str, str]
    existing: bool  # the batch's idempotency key had already been used: nothing was sent


@dataclass(frozen=True)
class BulkOperation:
    """An action taken on every job a filter selects: on the jobs in one of ``statuses`` (and
    dead-lettered, if ``dead_lettered``), by the command ``command`` makes of an envelope and a reason."""

    name: str
    statuses: frozenset[Status]
    dead_lettered: bool
    command_type: type[Command]
    command: Callable[[CommandEnvelope, str], Command]


# The operations by filter, declared once: the API's and the dashboard's bulk actions are these.
BULK_OPERATIONS: dict[str, BulkOperation] = {op.name: op for op in (
    BulkOperation("cancel", UNFINISHED, False, CancelJob, lambda env, reason: CancelJob(envelope=env, reason=reason)),
    BulkOperation("retry", frozenset({Status.FAILED}), False, RetryJob, lambda env, _: RetryJob(envelope=env)),
    BulkOperation("redrive", frozenset({Status.FAILED}), True, RedriveJob, lambda env, _: RedriveJob(envelope=env)),
)}


@dataclass(frozen=True)
class BulkDone:
    matched: int
    requested: int  # commands sent: the first MAX_BATCH of those matched
    request_id: str


class BulkCommands:
    def __init__(self, store: ReadModel, transactions: TransactionalPublisher,
                 shell_namespaces: Container[str] = frozenset()) -> None:
        self.store, self.transactions = store, transactions
        self.shell_namespaces = shell_namespaces  # the key ring's live set: where shell: true is allowed

    async def submit_batch(self, request: BatchRequest) -> BatchAccepted:
        # ~1 s of CPU for 10,000 jobs: off the event loop, so other requests go on meanwhile
        rules = NamespaceRules(acting_namespace(), self.shell_namespaces)
        jobs, resolved = await asyncio.to_thread(_checked_batch, request, rules)
        by_index = sorted(resolved.jobs, key=lambda job: job.index)
        answer = [{"ref": job.ref, "job_id": job.job_id} for job in by_index]
        if request.idempotency_key and await self._sent_before(by_index):
            return BatchAccepted(answer, resolved.refs, existing=True)
        await self._check_upstreams_exist(jobs, resolved)
        batch_id = uuid.uuid4().hex  # correlates the batch's commands and events
        commands: list[Command] = [
            SubmitJob(envelope=acting_envelope(SubmitJob, job.job_id, correlation_id=batch_id), spec=job.spec)
            for job in resolved.jobs]  # topological order: upstreams first within a partition
        await self._send(commands)
        return BatchAccepted(answer, resolved.refs, existing=False)

    async def matching(self, operation: BulkOperation, filters: Filter, limit: int) -> tuple[list[str], int]:
        """Up to ``limit`` ids of the caller's namespace's jobs that ``operation`` would act on, and how many in all."""
        selection = Filter({**filters.values, "namespace": acting_namespace()})
        return await self.store.matching(selection, operation.statuses, operation.dead_lettered, limit)

    async def act_matching(self, operation: BulkOperation, filters: Filter, request_id: str | None,
                           reason: str, expected: int | None = None) -> BulkDone:
        """One command per matching job (up to MAX_BATCH), with command ids derived from the request
        id: a retried request repeats the same commands, which decide nothing. With ``expected`` (the
        dry run's count), nothing is sent if more jobs match now: 409."""
        request_id = request_id or uuid.uuid4().hex
        job_ids, matched = await self.matching(operation, filters, MAX_BATCH)
        if expected is not None and matched > expected:
            raise ApiProblem(409, "selection-grew", f"{matched} jobs match now, more than the {expected} expected: "
                             "nothing was sent; dry-run again and confirm the new count",
                             matched=matched, expected_count=expected)
        commands = [operation.command(self._envelope(operation, job_id, request_id), reason) for job_id in job_ids]
        if commands:
            await self._send(commands)
        return BulkDone(matched, len(commands), request_id)

    @staticmethod
    def _envelope(operation: BulkOperation, job_id: str, request_id: str) -> CommandEnvelope:
        return acting_envelope(operation.command_type, job_id, correlation_id=request_id,
                               command_id=uuid.uuid5(COMMAND_IDS, f"{request_id}/{job_id}").hex)

    async def _sent_before(self, jobs: list[ResolvedJob]) -> bool:
        """Whether a job named by the batch's idempotency key exists: then the batch was sent."""
        keyed_by_batch = [job.job_id for job in jobs if not job.spec.idempotency_key]
        return bool(keyed_by_batch) and bool(await self.store.existing(keyed_by_batch, acting_namespace()))

    async def _check_upstreams_exist(self, jobs: list[BatchJob], resolved: ResolvedBatch) -> None:
        inside = {job.job_id for job in resolved.jobs}
        outside = [(i, k, up.job_id) for i, job in enumerate(jobs) for k, up in enumerate(job.depends_on)
                   if up.job_id is not None and up.job_id not in inside]
        if not outside:
            return
        known = await self.store.existing(sorted({job_id for _, _, job_id in outside}), acting_namespace())
        missing = [(f"jobs[{i}].depends_on[{k}].job_id", f"job {job_id} does not exist")
                   for i, k, job_id in outside if job_id not in known]
        if missing:
            raise _invalid(missing, "the batch depends on jobs that do not exist; see errors")

    async def _send(self, commands: list[Command]) -> None:
        try:
            await self.transactions.send_all(commands)
        except TransactionFailed as error:
            raise ApiProblem(503, "broker-unavailable", f"nothing was submitted: the transaction failed ({error})",
                             headers={"Retry-After": "1"}) from error


@dataclass(frozen=True)
class NamespaceRules:
    namespace: str  # the caller's, which its jobs join
    shell_namespaces: Container[str]


def _checked_batch(request: BatchRequest, rules: NamespaceRules) -> tuple[list[BatchJob], ResolvedBatch]:
    jobs = _parse_jobs(request.jobs)
    resolved = resolve_batch(jobs, lambda i, spec: _job_id(i, spec, request.idempotency_key))
    if not isinstance(resolved, ResolvedBatch):
        raise _invalid(resolved, "the batch is not valid; see errors")
    problems = _decision_problems(resolved, datetime.now(UTC), rules)
    if problems:
        raise _invalid(problems, "jobs of the batch would be rejected; see errors")
    return jobs, resolved


def _decision_problems(batch: ResolvedBatch, now: datetime, rules: NamespaceRules) -> list[Problem]:
    """The state processor's own rules beyond the spec's (a schedule that never fires, a schedule
    with dependencies, shell: true where the namespace does not allow it): checked here too, so
    that a batch is accepted whole or not at all."""
    problems: list[Problem] = []
    for job in batch.jobs:
        problem = (schedule_problem(job.spec, now) or dependency_problem(job.job_id, job.spec)
                   or shell_problem(job.spec, rules.namespace, rules.shell_namespaces))
        if problem:
            field, _, detail = problem.partition(": ")
            problems.append((f"jobs[{job.index}].{field}", detail))
    return problems


def _parse_jobs(raw: list[dict[str, Any]]) -> list[BatchJob]:
    """Each job checked like ``POST /v1/jobs`` (shape, then the spec's rules), errors naming jobs[i]."""
    problems: list[Problem] = []
    jobs: list[BatchJob] = []
    for i, item in enumerate(raw):
        try:
            job = BatchJobIn.model_validate(item).to_batch_job()
        except ValidationError as error:
            problems += [(indexed_field(f"jobs[{i}]", e["loc"]), e["msg"]) for e in error.errors()]
            continue
        problems += [(f"jobs[{i}].{field}", detail) for field, detail in validate_spec(job.spec)]
        jobs.append(job)
    if problems:
        raise _invalid(problems, "jobs of the batch are not valid; see errors")
    return jobs


def indexed_field(prefix: str, loc: tuple[int | str, ...]) -> str:
    """A pydantic location as a path with indexes: ``jobs[3].depends_on[0].ref``. The tag of the
    task union ("task.shell.argv") is dropped, as for single submits."""
    parts = [p for p in loc if p != "[key]"]
    if len(parts) > 1 and parts[0] == "task" and parts[1] in {"shell", "http", "python"}:
        del parts[1]
    out = prefix
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _job_id(index: int, spec: JobSpec, batch_key: str | None) -> str:
    if spec.idempotency_key:
        return job_id_for_idempotency_key(spec.idempotency_key, acting_namespace())
    if batch_key:  # a retried batch names the same jobs
        return job_id_for_idempotency_key(f"batch:{batch_key}:{index}", acting_namespace())
    return new_job_id()


def _invalid(problems: list[Problem], detail: str) -> ApiProblem:
    errors = [field_error(field, text) for field, text in problems[:MAX_ERRORS]]
    for error, (field, _) in zip(errors, problems, strict=False):
        error["pointer"] = "#/" + field.replace("].", "/").replace("[", "/").replace("]", "").replace(".", "/")
    return ApiProblem(422, "validation", detail, errors=errors, error_count=len(problems))

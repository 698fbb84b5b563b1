"""Sending commands and waiting, bounded, until their effect is visible in the read model."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Container
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

from confluent_kafka import KafkaException, Message

from jobstream.api.acting import acting_envelope, acting_namespace
from jobstream.api.health import BrokerWatch
from jobstream.api.models import spec_from_json
from jobstream.api.notifier import JobNotifier, Subscription
from jobstream.api.problems import ApiProblem, field_error
from jobstream.api.store import UNAVAILABLE, ReadModel, Row
from jobstream.clock import new_job_id
from jobstream.core.ids import job_id_for_idempotency_key
from jobstream.core.quotas import shell_problem
from jobstream.core.state import TERMINAL, Status
from jobstream.core.validation import validate_spec
from jobstream.projections.payload import record_json
from jobstream.schemas import (
    CancelJob,
    Command,
    JobPatch,
    JobSpec,
    PauseJob,
    RedriveJob,
    ResumeJob,
    RetryJob,
    SubmitJob,
    UpdateJob,
)
from jobstream.streams.kafka_io import Publisher

T = TypeVar("T")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ApiOptions:
    """Bounds of the API's waits and limits."""

    wait_s: float = 10.0  # read-your-writes: longest wait for the projection, then 202
    recheck_s: float = 1.0  # re-check this often even without a notification (safety net)
    ack_timeout_s: float = 5.0  # longest wait for an acknowledgement, then 503 (at once when all brokers are down)
    max_body_bytes: int = 1024 * 1024
    max_batch_body_bytes: int = 32 * 1024 * 1024  # POST /v1/jobs:batch: up to 10,000 jobs
    listener_start_s: float = 5.0  # at startup, longest wait for the first LISTEN
    pool_timeout_s: float = 5.0  # longest wait for a database connection, then 503


class Reply(StrEnum):
    """How a request that sent a command is answered (not an execution's ``Outcome``)."""

    CREATED = "created"  # 201: this request's submit created the job
    EXISTING = "existing"  # 200: the job already existed (same idempotency key)
    ACCEPTED = "accepted"  # 202: sent and acknowledged, not visible yet
    DONE = "done"  # 200: the command's effect is visible


@dataclass(frozen=True)
class Result:
    reply: Reply
    job: Row


class JobCommands:
    def __init__(self, store: ReadModel, notifier: JobNotifier, publisher: Publisher, options: ApiOptions,
                 broker: BrokerWatch | None = None, shell_namespaces: Container[str] = frozenset()) -> None:
        self.store, self.notifier, self.publisher, self.options = store, notifier, publisher, options
        self.broker = broker or BrokerWatch()
        self.shell_namespaces = shell_namespaces  # the key ring's live set: where shell: true is allowed

    async def _visible(self, subscription: Subscription, check: Callable[[], Awaitable[T | None]]) -> T | None:
        """``check()``'s answer once the command's effect is projected; None past the wait bound, or
        at once while the read model does not answer (the command is sent: the answer is 202)."""
        if self.store.gate.down:
            return None
        return await subscription.wait_until(tolerant(check), self.options.wait_s, self.options.recheck_s,
                                             give_up=lambda: self.store.gate.down)

    async def _projected(self, job_id: str) -> Row | None:
        """The job as projected, 404 if there is none; None when the read model does not answer,
        since the state processor decides the command anyway (it rejects one for an unknown job)."""
        try:
            job = await self.store.job(job_id)
        except UNAVAILABLE:
            return None
        if job is None:
            raise ApiProblem(404, "not-found", f"job {job_id} does not exist")
        return job

    async def _accepted(self, job_id: str, command: Command, known: Row | None) -> Result:
        """202: sent and acknowledged, its effect not visible yet; with the command id to ask about."""
        read = None if self.store.gate.down else await tolerant(lambda: self.store.job(job_id))()
        job = read or known or {"job_id": job_id}
        return Result(Reply.ACCEPTED, {**job, "command_id": command.envelope.command_id})

    async def submit(self, spec: JobSpec, upstreams_may_come_later: bool = False) -> Result:
        problems = validate_spec(spec)
        if shell := shell_problem(spec, acting_namespace(), self.shell_namespaces):
            field, _, detail = shell.partition(": ")
            problems.append((field, detail))
        if problems:
            raise ApiProblem(422, "validation", "the job spec is not valid; see errors",
                             errors=[field_error(field, problem) for field, problem in problems])
        if spec.depends_on and not upstreams_may_come_later:
            await self._upstreams_exist(spec)
        key = spec.idempotency_key
        job_id = job_id_for_idempotency_key(key, acting_namespace()) if key else new_job_id()
        # Unread while the read model is down: a second submit of the key is then the state processor's to refuse.
        if key and (existing := await tolerant(lambda: self.store.job(job_id))()) is not None:
            await self._same_submission(job_id, key, spec)
            return Result(Reply.EXISTING, existing)
        command = SubmitJob(envelope=acting_envelope(SubmitJob, job_id), spec=spec)
        async with self.notifier.subscribe(job_id) as subscription:
            await self._send(command)
            result = await self._visible(subscription, lambda: self._submitted(job_id, command))
        return result or await self._accepted(job_id, command, {"job_id": job_id, "status": Status.PENDING.value})

    async def _upstreams_exist(self, spec: JobSpec) -> None:
        """A job waiting on a job that does not exist would wait for ever, saying nothing."""
        known = await self.store.existing([d.job_id for d in spec.depends_on], acting_namespace())
        missing = [field_error(f"depends_on[{k}].job_id", f"job {d.job_id} does not exist (if it will be "
                               "submitted later, say upstreams_may_come_later: true)")
                   for k, d in enumerate(spec.depends_on) if d.job_id not in known]
        if missing:
            raise ApiProblem(422, "validation", "depends_on names jobs that do not exist; see errors", errors=missing)

    async def _same_submission(self, job_id: str, key: str, spec: JobSpec) -> None:
        """A reused idempotency key must come with the same job (as Stripe has it): a different body
        is a client bug that would otherwise be answered with a job it did not ask for."""
        events = await self.store.job_events(job_id, 0, 1)
        submitted = events[0]["payload"].get("spec") if events and events[0]["type"] == "JobSubmitted" else None
        if submitted is not None and submitted != json.loads(json.dumps(record_json(spec))):
            raise ApiProblem(409, "idempotency-conflict",
                             f"idempotency key {key!r} was first used for a different job ({job_id}); use a new key "
                             "for a new job", job_id=job_id)

    async def _submitted(self, job_id: str, command: Command) -> Result | None:
        command_id = command.envelope.command_id
        reason = await self.store.rejection(job_id, command_id)
        job = await self.store.job(job_id)
        if reason is not None:
            if job is not None:  # lost a race with a submit of the same idempotency key
                return Result(Reply.EXISTING, job)
            raise ApiProblem(422, "rejected", reason, title="Job rejected", job_id=job_id,
                             command_id=command_id)
        if job is None:
            return None
        created = not await self.store.submitted_by_other(job_id, command_id)
        return Result(Reply.CREATED if created else Reply.EXISTING, job)

    async def cancel(self, job_id: str, reason: str) -> Result:
        job = await self._projected(job_id)
        if job is not None and job.get("status") in TERMINAL:
            raise ApiProblem(409, "conflict", f"job is already {job['status']}", job_id=job_id,
                             job_status=job["status"])
        seen_seq = int(job["seq"]) if job is not None else 0
        command = CancelJob(envelope=acting_envelope(CancelJob, job_id), reason=reason)
        async with self.notifier.subscribe(job_id) as subscription:
            await self._send(command)
            result = await self._visible(subscription, lambda: self._cancelled(job_id, command, seen_seq))
        return result or await self._accepted(job_id, command, job)

    async def rerun(self, job_id: str, command_type: type[RetryJob] | type[RedriveJob]) -> Result:
        """Run a failed (or dead-lettered) job again as a new attempt; answers once it is queued."""
        job = await self._projected(job_id)
        if job is not None and job.get("status") != Status.FAILED:
            raise ApiProblem(409, "conflict", f"only a failed job can run again; this one is {job.get('status')}",
                             job_id=job_id, job_status=job.get("status"))
        seen_seq = int(job["seq"]) if job is not None else 0
        command = command_type(envelope=acting_envelope(command_type, job_id))
        async with self.notifier.subscribe(job_id) as subscription:
            await self._send(command)
            result = await self._visible(subscription, lambda: self._requeued(job_id, command, seen_seq))
        return result or await self._accepted(job_id, command, job)

    async def update(self, job_id: str, patch: JobPatch) -> Result:
        """Change a job before it runs; 409 with the state processor's reason if it may not change."""
        return await self._change(job_id, lambda: UpdateJob(envelope=acting_envelope(UpdateJob, job_id),
                                                            patch=patch))

    async def pause(self, job_id: str) -> Result:
        return await self._change(job_id, lambda: PauseJob(envelope=acting_envelope(PauseJob, job_id)))

    async def resume(self, job_id: str) -> Result:
        return await self._change(job_id, lambda: ResumeJob(envelope=acting_envelope(ResumeJob, job_id)))

    async def clone(self, job_id: str, overrides: Callable[[JobSpec], JobSpec]) -> Result:
        """Submit a new job from this one's spec (as projected), changed by ``overrides``."""
        job = await self._existing(job_id)
        try:
            spec = spec_from_json(job.get("spec") or {})
        except ValueError as error:
            raise ApiProblem(409, "conflict", f"job {job_id} has no readable spec to clone", job_id=job_id) from error
        return await self.submit(overrides(spec))

    async def _change(self, job_id: str, make: Callable[[], Command]) -> Result:
        """Send a command about an existing job, then answer with its decision once projected:
        the job (200), or 409 with the reason it was rejected; 202 past the wait bound."""
        job = await self._projected(job_id)
        command = make()
        async with self.notifier.subscribe(job_id) as subscription:
            await self._send(command)
            result = await self._visible(subscription, lambda: self._decided(job_id, command))
        return result or await self._accepted(job_id, command, job)

    async def _decided(self, job_id: str, command: Command) -> Result | None:
        command_id = command.envelope.command_id
        events = await self.store.decided(job_id, command_id)
        rejected = next((e for e in events if e["type"] == "CommandRejected"), None)
        if rejected is not None:
            raise ApiProblem(409, "conflict", rejected["reason"] or "rejected", job_id=job_id, command_id=command_id)
        job = await self.store.job(job_id) if events else None
        return None if job is None else Result(Reply.DONE, job)

    async def _existing(self, job_id: str) -> Row:
        job = await self.store.job(job_id)
        if job is None:
            raise ApiProblem(404, "not-found", f"job {job_id} does not exist")
        return job

    async def _requeued(self, job_id: str, command: Command, seen_seq: int) -> Result | None:
        reason = await self.store.rejection(job_id, command.envelope.command_id)
        if reason is not None:
            raise ApiProblem(409, "conflict", reason, job_id=job_id, command_id=command.envelope.command_id)
        job = await self.store.job(job_id)
        if job is not None and int(job["seq"]) > seen_seq and job.get("status") != Status.FAILED:
            return Result(Reply.DONE, job)
        return None

    async def _cancelled(self, job_id: str, command: Command, seen_seq: int) -> Result | None:
        reason = await self.store.rejection(job_id, command.envelope.command_id)
        if reason is not None:
            raise ApiProblem(409, "conflict", reason, job_id=job_id, command_id=command.envelope.command_id)
        job = await self.store.job(job_id)
        if job is not None and int(job["seq"]) > seen_seq and job.get("status") == Status.CANCELLED:
            return Result(Reply.DONE, job)
        return None

    async def _send(self, command: Command) -> None:
        """Produce durably (acks=all) or answer 503: at once, producing nothing, while the brokers are
        known to be down; a command that waited past the bound, or saw them go, may still land later."""
        ids = {"command_id": command.envelope.command_id, "job_id": command.envelope.job_id}
        if self.broker.down:
            raise broker_unavailable("no broker answers", ids)
        await self.acked(lambda: self.publisher.send_command_acked(command), **ids)

    async def acked(self, send: Callable[[], Awaitable[Message]], **ids: str) -> None:
        """Produce with ``send()`` and wait for the acknowledgement, or answer 503 naming ``ids``:
        past ``ack_timeout_s``, or as soon as every broker is down."""
        sending = asyncio.ensure_future(send())
        gone = asyncio.ensure_future(self.broker.went_down())
        try:
            done, _ = await asyncio.wait({sending, gone}, timeout=self.options.ack_timeout_s,
                                         return_when=asyncio.FIRST_COMPLETED)
            if sending not in done:
                raise broker_unavailable("no broker answers" if gone in done else "timed out", ids)
            sending.result()
        except (RuntimeError, KafkaException, BufferError) as error:
            raise broker_unavailable(str(error), ids) from error
        finally:
            gone.cancel()
            if not sending.done():
                sending.cancel()  # the produce itself goes on in librdkafka; only our wait ends
        self.broker.acknowledged()


def broker_unavailable(why: str, ids: dict[str, str]) -> ApiProblem:
    return ApiProblem(503, "broker-unavailable", f"the command was not acknowledged by Kafka: {why}",
                      headers={"Retry-After": "1"}, **ids)


def tolerant(check: Callable[[], Awaitable[T | None]]) -> Callable[[], Awaitable[T | None]]:
    """Once a command is sent, a read model that does not answer means "not visible yet" (202),
    not 503: a client retrying a durable submit without an idempotency key would duplicate it."""

    async def checked() -> T | None:
        try:
            return await check()
        except UNAVAILABLE:  # logged once as the read model's outage, not here per check
            return None

    return checked

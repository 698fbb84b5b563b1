"""The worker process: registers, asks for work (credits), runs assignments, reports back.

It reads only its own partition of the assignments topic (the one its worker_id hashes to), so
workers scale with partitions, not with a topic each. Reports are commands with deterministic
ids (``<execution_id>:started``), so a repeated report changes nothing. SIGTERM drains: finish
what runs, take nothing new, deregister; a second SIGTERM cancels what runs. A DrainWorker on
its partition (``POST /v1/workers/{id}/drain``) drains it as SIGTERM does.

It also reads its own key on the workers topic (same partition number: co-partitioned): when the
worker monitor declared it lost (it was frozen, or cut off, past the heartbeat window), its
executions already run again elsewhere, so it stops them and registers afresh.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from functools import partial
from typing import TypeAlias

import uvloop
from confluent_kafka import Consumer, KafkaError, Message, TopicPartition

from jobstream.clock import utcnow
from jobstream.config import Settings
from jobstream.core.admission import WorkerCapacity, free, refusal, split_slots
from jobstream.core.liveness import HEARTBEAT_S
from jobstream.core.report_keys import headers_of, mac_headers, report_mac
from jobstream.logging_setup import log_context
from jobstream.schemas import (
    Assignment,
    CancelExecution,
    DrainWorker,
    Outcome,
    ReportFinished,
    ReportStarted,
    Requirements,
    ReturnAssignment,
    WorkerCredit,
    WorkerDeregistered,
    WorkerDraining,
    WorkerEnvelope,
    WorkerEvent,
    WorkerHeartbeat,
    WorkerLost,
    WorkerRegistered,
)
from jobstream.schemas.actors import worker_actor
from jobstream.streams import metrics
from jobstream.streams.fetch_guard import GuardedReader
from jobstream.streams.kafka_io import (
    Publisher,
    command_envelope,
    consume_ready,
    consumer_config,
    decode_or_poison,
    end_offset,
    ensure_all_topics,
    partition_for,
    produce,
)
from jobstream.worker.allowlist import ANY_MODULE
from jobstream.worker.executors.base import ExecutionResult, ExecutorOptions, StopSignal
from jobstream.worker.outbox import Kept, Outbox
from jobstream.worker.report_key import fetch_report_key
from jobstream.worker.runs import run_assignment
from jobstream.worker.secrets import SecretSource

log = logging.getLogger(__name__)
SEEN_AT_MOST = 100_000
Inbound: TypeAlias = Assignment | CancelExecution | DrainWorker | WorkerLost



@dataclass(frozen=True)
class WorkerSpec:
    queues: tuple[str, ...] = ("default",)
    slots: int = 4
    cpu: float = float(os.cpu_count() or 1)
    memory_mb: int = 4096
    labels: dict[str, str] = field(default_factory=dict)
    worker_id: str = field(default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}")
    python_path: tuple[str, ...] = ()  # absolute directories Python tasks import from (python_path.py)
    allowed_modules: tuple[str, ...] = ()  # module patterns Python tasks may call into (allowlist.py)

    def capacity(self) -> WorkerCapacity:
        return WorkerCapacity(queues=self.queues, slots=self.slots, cpu=self.cpu, memory_mb=self.memory_mb,
                              labels=self.labels)


@dataclass
class Running:
    assignment: Assignment
    cancelled: StopSignal
    task: asyncio.Task[None] | None = None
    shutdown: bool = False  # stopped because this worker is going away, not because it was asked


class Worker:
    def __init__(self, settings: Settings, spec: WorkerSpec, metrics_port: int | None = None) -> None:
        self.settings = settings
        self.spec = spec
        self.metrics_port = metrics_port
        self.publisher = Publisher(settings)
        self.topics = self.publisher.topics
        self.running: dict[str, Running] = {}
        self.received: dict[str, int] = {q: 0 for q in spec.queues}
        self.seen: dict[str, None] = {}  # recent execution ids, oldest first: a repeat runs nothing
        self.seq = 0
        self.capacity = spec.capacity()
        self.options = ExecutorOptions.from_settings(settings, spec.python_path, spec.allowed_modules)
        self.secrets = SecretSource(settings, spec.worker_id)  # env_from's values, asked of the API
        # Credits are ordered by (incarnation, credit_seq), so the dispatcher can tell a repeated or
        # stale credit from this process's latest, and an earlier process's under the same id.
        self.incarnation = int(time.time() * 1_000_000)
        self.credit_seq = 0
        self.turn = 0
        self.credits_soon = False  # a credit for this turn of the loop's finishes is on its way
        self.draining = False
        self.losses: set[str] = set()  # WorkerLost event ids already acted on
        self.outbox = Outbox(settings.state_dir / "outbox", spec.worker_id)  # finish reports, until acknowledged
        self.stopped = asyncio.Event()
        self.feed: AssignmentFeed | None = None
        self.report_key: bytes | None = None  # what this worker signs its reports with, if it signs

    # -- life cycle -----------------------------------------------------------------------

    async def run(self) -> None:
        with log_context(worker_id=self.spec.worker_id):  # on every line of this worker, in JSON logs
            await self._serve()

    async def _serve(self) -> None:
        if self.settings.sign_reports:  # before any report: one sent unsigned would be set aside
            key = self.report_key = await asyncio.to_thread(fetch_report_key, self.settings, self.spec.worker_id)
            self.publisher.signer = partial(mac_headers, key) if key is not None else None
            log.info("reports %s", "signed with this worker's key" if key else "unsigned: the API does not check them")
        loop = asyncio.get_running_loop()
        inbox: asyncio.Queue[Inbound] = asyncio.Queue()
        feed = self.feed = AssignmentFeed(self.settings, self.spec.worker_id, self.publisher, loop, inbox)
        feed.start()
        if not feed.ready.wait(60):
            raise RuntimeError(f"the assignments feed did not start: {feed.error or 'timed out'}")
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._on_signal)
        self._register()
        self._resend_kept()  # what an earlier worker here finished but could not report
        log.info("worker %s: queues %s, %d slots, python path %s, Python modules allowed %s; reads partition %d "
                 "of %s and %s; metrics %s", self.spec.worker_id, ",".join(self.spec.queues), self.spec.slots,
                 os.pathsep.join(self.spec.python_path) or "-", ",".join(self.spec.allowed_modules) or "none",
                 feed.partition, self.topics.assignments, self.topics.workers,
                 f"on :{self.metrics_port}" if self.metrics_port else "off")
        if ANY_MODULE in self.spec.allowed_modules:
            log.warning("this worker runs any Python entrypoint a submitter names, os:system included "
                        "(--allow-module '%s'): name your packages instead", ANY_MODULE)
        beats = asyncio.create_task(self._heartbeats())
        try:
            while not (self.draining and not self.running):
                await self._take(inbox)
                if not feed.is_alive():  # never run deaf: exit, and let the supervisor restart us
                    raise RuntimeError(f"the assignments feed stopped: {feed.error}")
                if beats.done():  # nor silent: the monitor would declare us lost again and again
                    raise RuntimeError(f"the heartbeats stopped: {beats.exception()}")
        finally:
            beats.cancel()
            feed.stop()
            self.publisher.flush(10)  # every report before the goodbye: an expiry must not overtake one
            self._emit(WorkerDeregistered)
            self.publisher.flush(10)
            self.outbox.close()  # what is still undelivered goes to the next worker here
            log.info("worker %s deregistered", self.spec.worker_id)

    def _register(self) -> None:
        self._emit(WorkerRegistered, hostname=socket.gethostname(), pid=os.getpid(), queues=list(self.spec.queues),
                   slots=self.spec.slots, cpu=self.spec.cpu, memory_mb=self.spec.memory_mb, labels=self.spec.labels)

    async def _take(self, inbox: asyncio.Queue[Inbound]) -> None:
        """Act on the next record in; waits at most 0.2 s for one (the loop's checks run between).
        One already there is taken at once: ``wait_for`` costs a task and a timer per record."""
        try:
            record = inbox.get_nowait()
        except asyncio.QueueEmpty:
            try:
                record = await asyncio.wait_for(inbox.get(), timeout=0.2)
            except TimeoutError:
                return
        match record:
            case Assignment():
                self._start(record)
            case CancelExecution():
                self._cancel(record)
            case DrainWorker():
                if not self.draining:  # a repeated request must not escalate to a cancel
                    log.info("drain requested by %s: %s", record.requested_by or "?", record.reason or "-")
                    self._on_signal()
            case WorkerLost():
                self._on_lost(record)

    def _on_lost(self, lost: WorkerLost) -> None:
        """Declared lost: what runs here runs again elsewhere under a newer lease, so stop it (its
        reports would be rejected anyway) and register afresh, above the monitor's seq."""
        if lost.envelope.event_id in self.losses:
            return
        self.losses.add(lost.envelope.event_id)
        log.warning("declared lost (%s): stopping %d executions, registering again", lost.reason, len(self.running))
        for running in self.running.values():
            running.shutdown = True  # not cancelled by anyone: if its lease still holds, it is lost
            running.cancelled.set()
        self.seq = max(self.seq, lost.envelope.seq)
        self._register()
        if self.draining:
            self._emit(WorkerDraining)
        self._send_credits()

    def _on_signal(self) -> None:
        if self.draining:
            log.warning("second signal: stopping %d running executions; they will run again elsewhere",
                        len(self.running))
            for running in self.running.values():
                running.shutdown = True
                running.cancelled.set()
            return
        log.info("draining: finishing %d running executions, taking nothing new", len(self.running))
        self.draining = True
        self._emit(WorkerDraining)
        self._send_credits()

    async def _heartbeats(self) -> None:
        while True:
            self._emit(WorkerHeartbeat, running=list(self.running), free_slots=self._free(),
                       load_1m=os.getloadavg()[0], assignments_read_to=self.feed.read_to if self.feed else -1)
            self._send_credits()
            self._resend_kept()
            self.publisher.poll(0)
            await asyncio.sleep(HEARTBEAT_S)

    # -- credits and events ---------------------------------------------------------------

    def _running_needs(self) -> list[Requirements | None]:
        return [r.assignment.spec.requirements for r in self.running.values()]

    def _free(self) -> int:
        return 0 if self.draining else free(self.capacity, self._running_needs()).slots

    def _send_credits_soon(self) -> None:
        """One credit for every execution that ends in this turn of the event loop, sent at its end:
        no later than one each, and fewer messages for the dispatcher to decide under load."""
        if not self.credits_soon:
            self.credits_soon = True
            asyncio.get_running_loop().call_soon(self._send_credits)

    def _send_credits(self) -> None:
        """What this worker really has room for, per queue (the dispatcher subtracts what is on its way)."""
        self.credits_soon = False
        self.turn += 1
        now = utcnow()
        metrics.WORKER_SLOTS.set(self.spec.slots)  # sent with every credit: on each change and heartbeat
        metrics.WORKER_SLOTS_USED.set(len(self.running))
        room = free(self.capacity, self._running_needs())
        for queue, slots in split_slots(self._free(), self.spec.queues, self.turn).items():
            namespaces = Counter(r.assignment.namespace for r in self.running.values()
                                 if r.assignment.spec.queue == queue)
            self.credit_seq += 1
            credit = WorkerCredit(worker_id=self.spec.worker_id, queue=queue, free_slots=slots,
                                  received=self.received[queue], cpu_free=room.cpu, memory_mb_free=room.memory_mb,
                                  labels=self.spec.labels, issued_at=now, running=namespaces.total(),
                                  incarnation=self.incarnation, seq=self.credit_seq,
                                  running_namespaces=dict(namespaces))
            self.publisher.publish(self.topics.dispatch, queue, credit)
        self.publisher.poll(0)

    def _emit(self, event_type: type[WorkerEvent], **fields: object) -> None:
        self.seq += 1
        envelope = WorkerEnvelope(event_id=f"{self.spec.worker_id}:{self.seq}", worker_id=self.spec.worker_id,
                                  seq=self.seq, type=event_type.short_name(), occurred_at=utcnow(),
                                  actor=worker_actor(self.spec.worker_id))
        self.publisher.publish(self.topics.workers, self.spec.worker_id, event_type(envelope=envelope, **fields))

    # -- executions -----------------------------------------------------------------------

    def _start(self, assignment: Assignment) -> None:
        if assignment.worker_id != self.spec.worker_id:
            return
        if assignment.spec.queue in self.received:  # counted even for a repeat: the dispatcher counted it
            self.received[assignment.spec.queue] += 1
        if assignment.execution_id in self.seen:
            return
        self.seen[assignment.execution_id] = None
        if len(self.seen) > SEEN_AT_MOST:  # repeats follow within seconds: old ids can go
            del self.seen[next(iter(self.seen))]
        reason = refusal(self.capacity, self._running_needs(), assignment.spec, self.draining)
        if reason is not None:
            self._hand_back(assignment, reason)
            return
        running = Running(assignment, StopSignal())
        self.running[assignment.execution_id] = running
        with log_context(job_id=assignment.job_id, execution_id=assignment.execution_id):
            running.task = asyncio.create_task(self._execute(running))  # the task keeps this context

    def _hand_back(self, assignment: Assignment, reason: str) -> None:
        """No room for it: the state processor queues it again (no try used up), and our next
        credit says what we really have. Logged once: a repeat of the assignment is not seen again."""
        command_id = f"{assignment.execution_id}:returned"
        log.warning("handing back %s: %s", assignment.execution_id, reason,
                    extra={"job_id": assignment.job_id, "command_id": command_id})
        metrics.ASSIGNMENTS_RETURNED.inc()
        envelope = command_envelope(ReturnAssignment, assignment.job_id, worker_actor(self.spec.worker_id),
                                    command_id=command_id)
        self.publisher.send_command(ReturnAssignment(envelope=envelope, execution_id=assignment.execution_id,
                                                     attempt=assignment.attempt, worker_id=self.spec.worker_id,
                                                     reason=reason))
        self._send_credits()

    def _cancel(self, notice: CancelExecution) -> None:
        running = self.running.get(notice.execution_id)
        if notice.worker_id == self.spec.worker_id and running and running.assignment.attempt == notice.attempt:
            log.info("cancelling %s: %s", notice.execution_id, notice.reason,
                     extra={"job_id": running.assignment.job_id, "execution_id": notice.execution_id})
            running.cancelled.set()

    async def _execute(self, running: Running) -> None:
        assignment = running.assignment
        try:
            result = await run_assignment(self.publisher, self.spec.worker_id, assignment, running.cancelled,
                                          self.options, self.secrets)
        except Exception as error:  # noqa: BLE001 - an execution must always end, or it holds its slot forever
            log.exception("execution %s could not run", assignment.execution_id)  # its finish proves its start
            reason = f"the worker could not run this task: {type(error).__name__}: {error}"
            result = ExecutionResult(Outcome.FAILED, None, "", "", 0, error=reason[:2000])
        # Stopped because this worker goes away (not asked by anyone): lost, so it runs again elsewhere.
        outcome = Outcome.LOST if running.shutdown and result.outcome == Outcome.CANCELLED else result.outcome
        self._report(ReportFinished, assignment, "finished", outcome=outcome, exit_code=result.exit_code,
                     stdout_tail=result.stdout_tail, stderr_tail=result.stderr_tail, error=result.error,
                     duration_ms=result.duration_ms, result_json=result.result_json, log_records=result.log_records)
        del self.running[assignment.execution_id]
        metrics.EXECUTIONS.labels(result.outcome.value, assignment.namespace).inc()
        self._send_credits_soon()

    def _report(self, cls: type[ReportStarted] | type[ReportFinished], assignment: Assignment, what: str,
                **fields: object) -> None:
        envelope = command_envelope(cls, assignment.job_id, worker_actor(self.spec.worker_id),
                                    command_id=f"{assignment.execution_id}:{what}")
        report = cls(envelope=envelope, execution_id=assignment.execution_id,  # type: ignore[arg-type]
                     attempt=assignment.attempt, worker_id=self.spec.worker_id, **fields)
        if cls is ReportFinished:  # how it ended must survive this process: kept until acknowledged
            topic = self.topics.commands
            value = self.publisher.codec.encode(report, topic)
            mac = report_mac(self.report_key, value) if self.report_key is not None else None
            kept = Kept(envelope.command_id, topic, assignment.job_id.encode(), value, mac)
            self.outbox.keep(kept)
            self._send_kept(kept, time.monotonic())
            return
        self.publisher.send_command(report)
        self.publisher.poll(0)

    def _send_kept(self, kept: Kept, now: float) -> None:
        def delivered(error: KafkaError | None, _: Message) -> None:
            if error is None:
                self.outbox.delivered(kept.command_id)

        self.outbox.sending(kept.command_id, now)
        headers = headers_of(kept.mac) if kept.mac is not None else None  # a dead worker's report: its own MAC
        produce(self.publisher.producer, kept.topic, kept.value, kept.key, headers=headers, on_delivery=delivered)
        self.publisher.poll(0)

    def _resend_kept(self) -> None:
        now = time.monotonic()
        for kept in self.outbox.due(now):
            self._send_kept(kept, now)


def _put_all(inbox: asyncio.Queue[Inbound], records: list[Inbound]) -> None:
    for record in records:
        inbox.put_nowait(record)


class AssignmentFeed(threading.Thread):
    """Reads this worker's partition of the assignments topic, from its end, into the event loop."""

    def __init__(self, settings: Settings, worker_id: str, publisher: Publisher,
                 loop: asyncio.AbstractEventLoop, inbox: asyncio.Queue[Inbound]) -> None:
        super().__init__(name="assignments", daemon=True)
        self.settings, self.worker_id, self.publisher = settings, worker_id, publisher
        self.loop, self.inbox = loop, inbox
        self.partition = partition_for(worker_id, settings.partitions)  # of both topics: co-partitioned
        self.reader = GuardedReader(lambda: Consumer(consumer_config(settings, f"worker-{worker_id}")),
                                    "worker-assignments")
        self.read_to = -1  # this worker's position in its partition of the assignments topic, once assigned
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self._stopping = threading.Event()

    def run(self) -> None:
        topics = (self.publisher.topics.assignments, self.publisher.topics.workers)
        try:
            # Start from the end as it is now: nothing before our first credit can be ours.
            ends = [end_offset(self.reader.consumer, TopicPartition(topic, self.partition), deadline_s=60)
                    for topic in topics]
            self.reader.assign([TopicPartition(topic, self.partition, end)
                                for topic, end in zip(topics, ends, strict=True)])
            self.read_to = ends[0]
            self.ready.set()
            while not self._stopping.is_set():
                records = [record for message in consume_ready(self.reader.consumer, 100, 0.1)
                           if (record := self._ours(message)) is not None]
                if records:  # one wake-up of the event loop for the lot
                    self.loop.call_soon_threadsafe(_put_all, self.inbox, records)
                self.reader.heal()
                self.read_to = self.reader.position(topics[0], self.partition)  # said by each heartbeat
        except BaseException as error:  # noqa: BLE001 - kept for the worker to report and exit on
            self.error = error
            log.exception("the assignments feed failed")
        finally:
            self.reader.close()

    def _ours(self, message: Message) -> Inbound | None:
        if message.error() is not None or message.key() != self.worker_id.encode():
            return None
        record = decode_or_poison(self.publisher.codec, message, self.publisher.producer, self.publisher.topics)
        return record if isinstance(record, (Assignment, CancelExecution, DrainWorker, WorkerLost)) else None

    def stop(self) -> None:
        self._stopping.set()


def run_worker(settings: Settings, spec: WorkerSpec, metrics_port: int | None = None) -> None:
    metrics.serve(metrics_port)  # logging: set up by the command (jobstream/logging_setup.py)
    ensure_all_topics(settings)
    # libuv's loop: a worker turns it over a few times per execution (the feed's hand-over, the run,
    # its report); in a burst of inline no-ops the workers spent 15 to 20 % less CPU per job on
    # uvloop than on asyncio's own loop (docs/architecture.md)
    uvloop.run(Worker(settings, spec, metrics_port).run())

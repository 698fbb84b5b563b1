"""The worker monitor: declares silent workers lost and expires what they held.

It consumes the workers topic (registrations, heartbeats, drains, deregistrations, and its own
WorkerLost) and the assignments topic (what the dispatcher sent to whom), both keyed by
worker_id and so co-partitioned: one instance owns a worker's whole story. The pure tracker
(``core/liveness.py``) says who is overdue; a sweep every ``SWEEP_S`` then sends, per overdue
worker, one ``ExpireExecution`` per execution it held (command id ``expire:<execution_id>``),
and only once those are acknowledged a ``WorkerLost`` (event id ``<worker>:lost:<seq>``). A
crash in between sends the same ids again: the state processor and the projector ignore repeats.

The tracker is kept in a faust table (changelog), so a restarted monitor knows who was lost and
what each worker held; every live worker then gets a fresh window (no loss for our own absence).
"""

from __future__ import annotations

import asyncio
import logging
import pickle
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

import faust
from prometheus_client import Counter

from jobstream.clock import utcnow
from jobstream.config import Settings
from jobstream.core.liveness import DEFAULT_WINDOW_S, Held, LivenessTracker, Loss, WorkerLiveness
from jobstream.infra.topics import Topics
from jobstream.schemas import (
    Assignment, ExpireExecution, WorkerEnvelope, WorkerEvent, WorkerLost, WorkerRegistered, make_codec,
)
from jobstream.streams import metrics
from jobstream.streams.app import decoded, ensure_all_topics, make_app, partition_for, produce
from jobstream.streams.kafka_io import command_envelope

log = logging.getLogger(__name__)
SWEEP_S = 0.5
ORPHAN_DELAY_S = 1.0  # lets the dispatcher's AssignJob reach the state processor before its expiry
ACTOR = "worker-monitor"

WORKERS_LOST = Counter("jobstream_workers_lost_total", "Workers declared lost by the worker monitor.")
EXPIRED = Counter("jobstream_executions_expired_total", "ExpireExecution commands sent, by cause.", ["cause"])



class WorkerMonitor:
    def __init__(self, settings: Settings, *, instance_id: str | None = None, window_s: float = DEFAULT_WINDOW_S,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.topics = Topics(settings.topic_prefix)
        self.partitions = settings.partitions
        self.codec = make_codec(settings.schema_registry_url)
        self.clock = clock
        self.window_s = window_s
        self.app = make_app(settings, self.topics.worker_monitor_app, instance_id=instance_id)
        self.source = self.app.topic(self.topics.workers, self.topics.assignments, key_type=bytes, value_type=bytes,
                                     key_serializer="raw", value_serializer="raw", partitions=self.partitions,
                                     internal=False)
        self.table = self.app.Table("liveness", default=None, partitions=self.partitions, key_type=str,
                                    value_type=bytes)
        self.table.on_recover(self._rebuild)
        self.app.on_partitions_revoked.connect(self._revoked)
        self.tracker = LivenessTracker(window_s)
        self.orphans: list[tuple[datetime, str, Held, str]] = []  # (due, worker_id, execution, reason)
        self.recovered = False
        self.app.agent(self.source, name="liveness")(self._process)
        self.app.task(self._sweep_loop)

    # -- records in -----------------------------------------------------------------------

    async def _process(self, stream: faust.StreamT) -> AsyncIterator[None]:
        async for event in stream.events():
            record = decoded(self.codec, event.message, "worker records: the projector sets poison aside")
            if isinstance(record, (WorkerEvent, Assignment)):
                self._observe(record)
            yield None

    def _observe(self, record: WorkerEvent | Assignment) -> None:
        worker_id = record.worker_id if isinstance(record, Assignment) else record.envelope.worker_id
        now = self.clock()
        orphans = self.tracker.observe(record, now)
        if isinstance(record, WorkerRegistered):
            reason = f"worker {worker_id} registered again"
        elif isinstance(record, WorkerEvent):
            reason = f"worker {worker_id} deregistered while holding it"
        else:
            reason = f"assigned to worker {worker_id}, which was lost"
        self.orphans += [(now + timedelta(seconds=ORPHAN_DELAY_S), worker_id, held, reason) for held in orphans]
        state = self.tracker.workers.get(worker_id)
        if state is not None:
            self.table[worker_id] = pickle.dumps(state)  # in the stream: faust knows the partition
        elif self.table.data.get(worker_id) is not None:
            del self.table[worker_id]

    async def _revoked(self, *_: object, **__: object) -> None:
        """Workers of revoked partitions are another instance's now: no sweeping until recovered."""
        self.recovered = False

    async def _rebuild(self) -> None:
        """After a (re)assignment of partitions: the tracker holds exactly our partitions' workers."""
        workers: dict[str, WorkerLiveness] = {}
        for key, value in list(self.table.data.items()):
            if value:
                workers[key] = pickle.loads(value)
        self.tracker = LivenessTracker(self.window_s, workers)
        self.tracker.resume(self.clock())
        self.recovered = True
        log.info("worker monitor recovered %d workers", len(workers))

    # -- losses out -----------------------------------------------------------------------

    async def _sweep_loop(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_S)
            if not self.recovered:
                continue
            try:
                await self.sweep(self.clock())
            except Exception:  # noqa: BLE001 - a failed send is retried on the next sweep
                log.exception("worker monitor sweep failed; retrying")

    async def sweep(self, now: datetime) -> None:
        for loss in self.tracker.overdue(now):
            await self._declare(loss, now)
        for orphan in [o for o in self.orphans if o[0] <= now]:
            _, worker_id, held, reason = orphan
            await self._expire(held, worker_id, reason, "orphan")
            self.orphans.remove(orphan)  # only once sent: a failed send is retried on the next sweep

    async def _declare(self, loss: Loss, now: datetime) -> None:
        log.warning("%s; expiring %d executions", loss.reason, len(loss.executions))
        for held in loss.executions:
            await self._expire(held, loss.worker_id, loss.reason, "lost")
        envelope = WorkerEnvelope(event_id=loss.event_id, worker_id=loss.worker_id, seq=loss.seq,
                                  type=WorkerLost.short_name(), occurred_at=now, actor=ACTOR)
        lost = WorkerLost(envelope=envelope, last_heartbeat_at=loss.last_heartbeat_at, reason=loss.reason)
        await self._send(self.topics.workers, loss.worker_id, lost)
        late = self.tracker.declare_lost(loss)
        self.orphans += [(now + timedelta(seconds=ORPHAN_DELAY_S), loss.worker_id, held, loss.reason) for held in late]
        self.table.data[loss.worker_id] = value = pickle.dumps(self.tracker.workers[loss.worker_id])
        # Outside a stream faust cannot tell the partition: name it.
        self.table.send_changelog(partition_for(loss.worker_id, self.partitions), loss.worker_id, value)
        WORKERS_LOST.inc()

    async def _expire(self, held: Held, worker_id: str, reason: str, cause: str) -> None:
        command = ExpireExecution(
            envelope=command_envelope(ExpireExecution, held.job_id, ACTOR, command_id=f"expire:{held.execution_id}",
                                      now=self.clock()),
            execution_id=held.execution_id, attempt=held.attempt, worker_id=worker_id, reason=reason)
        await self._send(self.topics.commands, held.job_id, command)
        EXPIRED.labels(cause).inc()

    async def _send(self, topic: str, key: str, record: ExpireExecution | WorkerLost) -> None:
        """Produce and wait for the broker's acknowledgement: a loss is announced only after its expiries."""
        delivery = await produce(self.app, topic, key.encode(), self.codec.encode(record, topic),
                                 partition_for(key, self.partitions))
        await delivery


def run_worker_monitor(settings: Settings, instance_id: str | None = None, metrics_port: int | None = None,
                       window_s: float = DEFAULT_WINDOW_S) -> None:
    metrics.serve(metrics_port)
    monitor = WorkerMonitor(settings, instance_id=instance_id, window_s=window_s)
    ensure_all_topics(settings)
    faust.Worker(monitor.app, loglevel="INFO", quiet=True).execute_from_commandline()

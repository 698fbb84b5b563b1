"""The worker monitor: declares silent workers lost and expires what they held, on the engine.

It consumes the workers topic (registrations, heartbeats, drains, deregistrations, and its own
WorkerLost) and the assignments topic (what the dispatcher sent to whom), both keyed by
worker_id and so co-partitioned: one instance owns a worker's whole story (the engine's range
assignment gives it partition n of both). The pure tracker (``core/liveness.py``) says who is
overdue; a sweep every ``SWEEP_S`` then sends, per overdue worker, one ``ExpireExecution`` per
execution it held (command id ``expire:<execution_id>``) and a ``WorkerLost`` (event id
``<worker>:lost:<seq>``), in one transaction with the worker's new liveness state: a crash
sends all of them or none, and a zombie instance sends nothing.

The tracker's workers are the store's values (Avro ``WorkerLiveness`` records on the changelog),
so a restarted monitor knows who was lost and what each worker held; every live worker then gets
a fresh window (no loss for our own absence).
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable, MutableMapping
from datetime import datetime, timedelta
from functools import lru_cache

from confluent_kafka import Message
from prometheus_client import Counter

from jobstream.clock import utcnow
from jobstream.config import Settings
from jobstream.core.liveness import DEFAULT_WINDOW_S, UNREAD_AFTER_S, LivenessTracker, Loss
from jobstream.infra.topics import Topics
from jobstream.schemas import (
    Assignment,
    ExpireExecution,
    Held,
    Liveness,
    WorkerEnvelope,
    WorkerEvent,
    WorkerHeartbeat,
    WorkerLiveness,
    WorkerLost,
    WorkerRegistered,
    make_codec,
)
from jobstream.streams import metrics
from jobstream.streams.engine import Batch, Engine, EngineConfig
from jobstream.streams.kafka_io import command_envelope, ensure_all_topics, partition_for
from jobstream.streams.record_serde import RecordSerde, decode_input

log = logging.getLogger(__name__)
SWEEP_S = 0.5
GATHER_S = 0.25  # half a sweep: see engine_config
ORPHAN_DELAY_S = 1.0  # lets the worker's start reach the state processor before an orphan's expiry
ACTOR = "worker-monitor"

WORKERS_LOST = Counter("jobstream_workers_lost_total", "Workers declared lost by the worker monitor.")
EXPIRED = Counter("jobstream_executions_expired_total",
                  "ExpireExecution commands sent, by cause (lost, orphan, unread: a live worker did not read it).",
                  ["cause"])

Orphan = tuple[datetime, str, Held, str, str]  # (due, worker_id, execution, reason, cause)


class MonitorHandler:
    """The worker monitor as an engine ``Processor[WorkerLiveness]``."""

    def __init__(self, settings: Settings, window_s: float = DEFAULT_WINDOW_S,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.topics = Topics(settings.topic_prefix)
        self.codec = make_codec(settings.schema_registry_url)
        self.clock = clock
        self.window_s = window_s
        self.tables: dict[int, MutableMapping[str, WorkerLiveness]] = {}  # committed, per owned partition
        self.tracker = LivenessTracker(window_s)
        self.orphans: list[Orphan] = []
        self.expired: list[str] = []  # causes of this transaction's expiries, counted once committed
        self.lost = 0
        self.swept_at: datetime | None = None
        self.partition_of = lru_cache(maxsize=4096)(lambda key: partition_for(key, settings.partitions))

    # -- records in -----------------------------------------------------------------------

    def handle(self, message: Message, batch: Batch[WorkerLiveness]) -> None:
        record = decode_input(self.codec, message, batch, self.topics.poison)
        if isinstance(record, (WorkerEvent, Assignment)):  # not cancel or drain notices
            offset = message.offset()
            self._observe(record, message.partition(), -1 if offset is None else offset, batch)  # type: ignore[arg-type]

    def handled(self, batch: Batch[WorkerLiveness]) -> None:
        pass  # losses are found by the clock, in ``punctuate``

    def _observe(self, record: WorkerEvent | Assignment, partition: int, offset: int,
                 batch: Batch[WorkerLiveness]) -> None:
        worker_id = record.worker_id if isinstance(record, Assignment) else record.envelope.worker_id
        now = self.clock()
        orphans = self.tracker.observe(record, now, offset)
        cause = "orphan"
        if isinstance(record, WorkerRegistered):
            reason = f"worker {worker_id} registered again"
        elif isinstance(record, WorkerHeartbeat):
            reason, cause = f"worker {worker_id} has not read its assignment in {UNREAD_AFTER_S:.0f}s", "unread"
        elif isinstance(record, WorkerEvent):
            reason = f"worker {worker_id} deregistered while holding it"
        else:
            reason = f"assigned to worker {worker_id}, which was lost"
        self.orphans += [(now + timedelta(seconds=ORPHAN_DELAY_S), worker_id, held, reason, cause) for held in orphans]
        batch.put(partition, worker_id, self.tracker.workers.get(worker_id))

    # -- losses out -----------------------------------------------------------------------

    def punctuate(self, batch: Batch[WorkerLiveness], owned: frozenset[int]) -> None:
        now = self.clock()
        self._heard_nothing_meanwhile(now)
        for loss in self.tracker.overdue(now):
            self._declare(loss, now, batch)
        for worker_id in self.tracker.forget_lost(now):  # the table holds the fleet, not every loss ever
            batch.put(self.partition_of(worker_id), worker_id, None)
        due = [orphan for orphan in self.orphans if orphan[0] <= now]
        for _, worker_id, held, reason, cause in due:
            self._expire(held, worker_id, reason, cause, batch)
        self.orphans = [orphan for orphan in self.orphans if orphan[0] > now]

    def _heard_nothing_meanwhile(self, now: datetime) -> None:
        """Silence is evidence only while the monitor listened. After a gap in its own sweeps (the
        broker was away, the process was paused or starved), heartbeats may be waiting unread:
        every worker gets a fresh window rather than all being declared lost at once."""
        gap_s = (now - self.swept_at).total_seconds() if self.swept_at is not None else 0.0
        self.swept_at = now
        if gap_s > self.window_s / 2:
            log.warning("the worker monitor did not sweep for %.1fs; every worker gets a fresh window", gap_s)
            self.tracker.resume(now)

    def _declare(self, loss: Loss, now: datetime, batch: Batch[WorkerLiveness]) -> None:
        log.warning("%s; expiring %d executions", loss.reason, len(loss.executions))
        for held in loss.executions:
            self._expire(held, loss.worker_id, loss.reason, "lost", batch)
        envelope = WorkerEnvelope(event_id=loss.event_id, worker_id=loss.worker_id, seq=loss.seq,
                                  type=WorkerLost.short_name(), occurred_at=now, actor=ACTOR)
        lost = WorkerLost(envelope=envelope, last_heartbeat_at=loss.last_heartbeat_at, reason=loss.reason)
        self._send(self.topics.workers, loss.worker_id, lost, batch)
        late = self.tracker.declare_lost(loss)
        self.orphans += [(now + timedelta(seconds=ORPHAN_DELAY_S), loss.worker_id, held, loss.reason, "orphan")
                         for held in late]
        batch.put(self.partition_of(loss.worker_id), loss.worker_id, self.tracker.workers[loss.worker_id])
        self.lost += 1

    def _expire(self, held: Held, worker_id: str, reason: str, cause: str, batch: Batch[WorkerLiveness]) -> None:
        command = ExpireExecution(
            envelope=command_envelope(ExpireExecution, held.job_id, ACTOR, command_id=f"expire:{held.execution_id}",
                                      now=self.clock()),
            execution_id=held.execution_id, attempt=held.attempt, worker_id=worker_id, reason=reason)
        self._send(self.topics.commands, held.job_id, command, batch)
        self.expired.append(cause)

    def _send(self, topic: str, key: str, record: ExpireExecution | WorkerLost, batch: Batch[WorkerLiveness]) -> None:
        batch.send(topic, key.encode(), self.codec.encode(record, topic), self.partition_of(key))

    # -- the transaction's end -------------------------------------------------------------

    def committed(self) -> None:
        workers = self.tracker.workers.values()
        for status in Liveness:
            metrics.WORKERS.labels(status.value).set(sum(1 for worker in workers if worker.status == status))
        for cause in self.expired:
            EXPIRED.labels(cause).inc()
        if self.lost:
            WORKERS_LOST.inc(self.lost)
        self.expired, self.lost = [], 0

    def aborted(self) -> None:
        """Back to the committed workers; the batch is consumed again. Orphans found in it are
        found again; those of a failed sweep are swept again."""
        self.expired, self.lost = [], 0
        self._rebuild()

    # -- partitions ------------------------------------------------------------------------

    def assigned(self, partition: int, table: MutableMapping[str, WorkerLiveness]) -> None:
        self.tables[partition] = table
        self._rebuild()
        log.debug("worker monitor took partition %d: %d workers", partition, len(table))

    def revoked(self, partition: int) -> None:
        self.tables.pop(partition, None)
        self._rebuild()

    def _rebuild(self) -> None:
        """The tracker holds exactly the committed workers of our partitions, each with a fresh window."""
        workers = {worker_id: state for table in self.tables.values() for worker_id, state in table.items()}
        self.tracker = LivenessTracker(self.window_s, workers)
        self.tracker.resume(self.clock())
        owned = set(self.tables)
        self.orphans = [orphan for orphan in self.orphans if self.partition_of(orphan[1]) in owned]


def engine_config(settings: Settings, instance_id: str | None) -> EngineConfig:
    """Off the latency path: fetches batched by the broker, and each transaction gathers up to
    GATHER_S of input after its first record. Under load a worker's liveness record holds every
    execution assigned to it since its last heartbeats (about 4 s of them), and each transaction
    rewrites it on the changelog: fewer, fuller transactions write it less often. The price: a
    record is folded in up to GATHER_S later, against a loss window of seconds."""
    topics = Topics(settings.topic_prefix)
    return EngineConfig(app_id=topics.worker_monitor_app, input_topics=(topics.workers, topics.assignments),
                        changelog_topic=topics.worker_monitor_changelog, instance_id=instance_id,
                        punctuate_every_s=SWEEP_S, batched_fetch=True, gather_from=1, gather_s=GATHER_S)


def run_worker_monitor(settings: Settings, instance_id: str | None = None, metrics_port: int | None = None,
                       window_s: float = DEFAULT_WINDOW_S) -> None:
    metrics.serve(metrics_port)
    ensure_all_topics(settings)
    codec = make_codec(settings.schema_registry_url)
    serde = RecordSerde(codec, WorkerLiveness, Topics(settings.topic_prefix).worker_monitor_changelog)
    engine = Engine(settings, engine_config(settings, instance_id), MonitorHandler(settings, window_s), serde)
    signal.signal(signal.SIGTERM, engine.stop)
    signal.signal(signal.SIGINT, engine.stop)
    raise SystemExit(engine.run())

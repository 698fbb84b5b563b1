"""The dispatcher: matches ready executions to workers' credits, per queue, on the engine.

It consumes the dispatch topic, keyed by queue, so that one queue's ready work and the credits of
the workers serving it meet in one partition, owned by one dispatcher instance. A match becomes
one message: an Assignment to the worker's partition of the assignments topic. The worker starts
at once, and its start records the lease (JobAssigned, JobStarted); the state processor fences
anything that lost a race (a cancel, a second worker with the same attempt) and tells the worker
to stop.

Exactly-once (``streams/engine``): a batch's assignments, the ready executions they remove (the
store's changelog) and the consumed offsets commit in one transaction, so a crash or a rebalance
never sends an execution twice, and a zombie instance (paused, then resumed after its partitions
moved) cannot append an assignment. Matching runs once per batch, after its messages.

Credits are not stored: workers send fresh ones every few seconds, and one older than the credit
TTL no longer counts. After a restart or rebalance the credits read again from the topic (below
the end offsets as they were then) update the accounting but place nothing: each looks consistent
on its own, yet none knows what the previous owner sent since, and replaying a few seconds of a
busy 1-slot worker's credits once sent it six executions at a time.

Workers that go away (lost, draining, deregistered: the workers topic, keyed by worker_id) must
lose their credits in whichever instance holds their queues, and the two topics are partitioned
by different keys. So every instance reads all partitions of the workers topic, outside any
consumer group (``WorkerWatch``, on a thread of its own), starting one credit TTL back so that a
restart misses nothing that still matters.

Namespaces' in-flight caps come the same way from the keys topic (``QuotaWatch``, read to its end
before the first match); the board counts each capped namespace's executions from the credits.
"""

from __future__ import annotations

import logging
import queue
import signal
import threading
import uuid
from collections.abc import Callable, MutableMapping
from datetime import datetime
from functools import lru_cache, partial

from confluent_kafka import Consumer, Message, TopicPartition

from jobstream.clock import utcnow
from jobstream.config import Settings
from jobstream.core.dispatch import DEFAULT_CREDIT_TTL_S, DispatchBoard, Match, parse_queue_limits
from jobstream.core.quotas import fold_cap
from jobstream.infra.topics import Topics
from jobstream.schemas import (
    Assignment,
    Codec,
    JobReady,
    JobWithdrawn,
    MessageDecodeError,
    WorkerCredit,
    WorkerDeregistered,
    WorkerDraining,
    WorkerLost,
    make_codec,
)
from jobstream.streams import metrics
from jobstream.streams.engine import Batch, Engine, EngineConfig
from jobstream.streams.fetch_guard import GuardedReader
from jobstream.streams.kafka_io import (
    BATCHED_FETCH,
    consume_ready,
    consumer_config,
    end_offset,
    ensure_all_topics,
    partition_for,
    while_leaders_settle,
)
from jobstream.streams.quota_watch import QuotaWatch
from jobstream.streams.record_serde import RecordSerde, decode_input

log = logging.getLogger(__name__)


class DispatchHandler:
    """The dispatcher as an engine ``Processor[JobReady]``: the store holds each owned queue
    partition's ready executions by job id."""

    def __init__(self, settings: Settings, departures: queue.SimpleQueue[tuple[str, datetime]],
                 clock: Callable[[], datetime] = utcnow, quotas: QuotaWatch | None = None,
                 caps: dict[str, int] | None = None) -> None:
        self.settings = settings
        self.topics = Topics(settings.topic_prefix)
        self.codec = make_codec(settings.schema_registry_url)
        self.clock = clock
        self.departures = departures
        self.quotas = quotas
        self.caps = caps if caps is not None else {}  # namespace -> max in flight: the board's, kept by the watch
        self.board = DispatchBoard(aging_step_s=settings.aging_step_s, credit_ttl_s=DEFAULT_CREDIT_TTL_S,
                                   queue_limits=parse_queue_limits(settings.queue_limits),  # bad settings fail at start
                                   namespace_caps=self.caps)
        self.tables: dict[int, MutableMapping[str, JobReady]] = {}  # committed ready executions per partition
        self.replayed_below: dict[int, int] = {}  # dispatch partition -> its end offset when we took it
        self.partition_of = lru_cache(maxsize=4096)(lambda key: partition_for(key, settings.partitions))
        self.sent = 0
        self.reported_queues: set[str] = set()  # queues whose depth gauges this process has set
        self.reported_caps: set[str] = set()  # namespaces whose cap gauges this process has set
        self._offsets_consumer: Consumer | None = None

    # -- per message and per batch ---------------------------------------------------------

    def handle(self, message: Message, batch: Batch[JobReady]) -> None:
        partition: int = message.partition()  # type: ignore[assignment]
        record = decode_input(self.codec, message, batch, self.topics.poison)
        match record:
            case JobReady():
                self.board.add(record)
                if self.board.ready.get(record.job_id) is record:
                    batch.put(partition, record.job_id, record)
            case JobWithdrawn():
                self.board.withdraw(record.job_id, record.attempt)
                if record.job_id not in self.board.ready and batch.get(partition, record.job_id) is not None:
                    batch.put(partition, record.job_id, None)
            case WorkerCredit():
                live = message.offset() >= self.replayed_below.get(partition, 0)  # type: ignore[operator]
                self.board.offer(record, live)
            case None:
                pass
            case _:
                batch.set_aside(message, f"{type(record).__name__} does not belong on the dispatch topic",
                                self.topics.poison)

    def handled(self, batch: Batch[JobReady]) -> None:
        self._forget_departed()
        if self.quotas is not None:
            self.quotas.drain()  # into self.caps
        for match in self.board.match(self.clock()):
            self._send(match, batch)

    def punctuate(self, batch: Batch[JobReady], owned: frozenset[int]) -> None:
        self._forget_departed()
        self._report_depths()
        self._report_caps()

    def _report_depths(self) -> None:
        depths = self.board.depths(self.clock())
        for gone in self.reported_queues - depths.keys():  # its partition moved away, or it emptied
            metrics.QUEUE_READY.labels(gone).set(0)
            metrics.QUEUE_OLDEST_AGE.labels(gone).set(0)
        for queue_name, (count, oldest_s) in depths.items():
            metrics.QUEUE_READY.labels(queue_name).set(count)
            metrics.QUEUE_OLDEST_AGE.labels(queue_name).set(max(0.0, oldest_s))
        self.reported_queues = set(depths)

    def _report_caps(self) -> None:
        """Each capped namespace's executions beside its cap: at its cap, its jobs wait."""
        in_flight = self.board.namespace_in_flight()
        for gone in self.reported_caps - in_flight.keys():  # its cap was lifted
            metrics.NAMESPACE_IN_FLIGHT.remove(gone)
            metrics.NAMESPACE_CAP.remove(gone)
        for namespace, count in in_flight.items():
            metrics.NAMESPACE_IN_FLIGHT.labels(namespace).set(count)
            metrics.NAMESPACE_CAP.labels(namespace).set(self.caps[namespace])
        self.reported_caps = set(in_flight)

    def _forget_departed(self) -> None:
        while True:
            try:
                worker_id, at = self.departures.get_nowait()
            except queue.Empty:
                return
            log.info("worker %s departed: its credits no longer count", worker_id)
            self.board.forget_worker(worker_id, at)

    def _send(self, match: Match, batch: Batch[JobReady]) -> None:
        """The assignment goes to the worker alone: its start is what records the lease (one command
        and one decision fewer per job; a worker lost before it starts has the assignment expired)."""
        job = match.job
        assignment = Assignment(job_id=job.job_id, execution_id=job.execution_id, attempt=job.attempt,
                                worker_id=match.worker_id, spec=job.spec, assigned_at=self.clock(),
                                namespace=job.namespace)
        topic = self.topics.assignments
        batch.send(topic, match.worker_id.encode(), self.codec.encode(assignment, topic),
                   self.partition_of(match.worker_id))
        batch.put(self.partition_of(job.queue), job.job_id, None)
        self.sent += 1

    # -- the transaction's end -------------------------------------------------------------

    def committed(self) -> None:
        if self.sent:
            metrics.ASSIGNMENTS.inc(self.sent)
            self.sent = 0

    def aborted(self) -> None:
        """The board goes back to the committed ready executions; the batch is consumed again."""
        self.sent = 0
        self.board = self.board.renewed(job for table in self.tables.values() for job in table.values())

    # -- partitions ------------------------------------------------------------------------

    def assigned(self, partition: int, table: MutableMapping[str, JobReady]) -> None:
        self.tables[partition] = table
        # One partition's end, on a consumer kept for it: all 12 partitions' ends on a new consumer
        # for each partition taken cost 12 consumers and 144 requests at start-up.
        self.replayed_below[partition] = end_offset(self._offsets(), TopicPartition(self.topics.dispatch, partition))
        for job in table.values():
            self.board.add(job)
        log.debug("dispatcher took partition %d: %d ready executions", partition, len(table))

    def _offsets(self) -> Consumer:
        if self._offsets_consumer is None:
            group = f"dispatcher-offsets-{uuid.uuid4().hex[:8]}"  # never joined: it only asks for ends
            self._offsets_consumer = Consumer(consumer_config(self.settings, group))
        return self._offsets_consumer

    def revoked(self, partition: int) -> None:
        self.tables.pop(partition, None)
        owned = set(self.tables)
        self.board.retain(lambda queue_name: self.partition_of(queue_name) in owned)


class WorkerWatch:
    """Reads every partition of the workers topic, without a group, for workers that depart, and
    hands them to the dispatcher's loop through a queue."""

    DEPARTED = (WorkerLost, WorkerDraining, WorkerDeregistered)

    def __init__(self, settings: Settings, topic: str, codec: Codec) -> None:
        self.topic, self.codec = topic, codec
        group = f"dispatcher-watch-{uuid.uuid4().hex[:8]}"
        self.reader = GuardedReader(lambda: Consumer(consumer_config(settings, group, **BATCHED_FETCH)),
                                    "dispatcher-worker-watch")
        self.departures: queue.SimpleQueue[tuple[str, datetime]] = queue.SimpleQueue()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="worker-watch", daemon=True)

    def start(self, now: datetime) -> None:
        """Assign all partitions from one credit TTL ago: older departures are moot (their credits expired)."""
        since_ms = int((now.timestamp() - DEFAULT_CREDIT_TTL_S) * 1000)
        consumer = self.reader.consumer
        partitions = consumer.list_topics(self.topic, timeout=30).topics[self.topic].partitions
        wanted = [TopicPartition(self.topic, p, since_ms) for p in partitions]
        self.reader.assign(while_leaders_settle(lambda: consumer.offsets_for_times(wanted, timeout=30)))
        self._thread.start()

    def _run(self) -> None:
        while not self._stopped.is_set():
            for found in self.read():
                self.departures.put(found)
            self.reader.heal()
        self.reader.close()

    def read(self) -> list[tuple[str, datetime]]:
        """(worker_id, when) of departures read within half a second."""
        found = []
        for message in consume_ready(self.reader.consumer, 500, 0.5):
            if message.error() is not None:
                continue
            try:
                record = self.codec.decode(message.value() or b"", topic=message.topic(),  # type: ignore[arg-type]
                                           partition=message.partition(), offset=message.offset())  # type: ignore[arg-type]
            except MessageDecodeError as error:  # the projector sets the workers topic's poison aside
                log.error("%s: skipped by the dispatcher's worker watch", error)
                continue
            if isinstance(record, self.DEPARTED):
                found.append((record.envelope.worker_id, record.envelope.occurred_at))
        return found

    def stop(self) -> None:
        self._stopped.set()


def engine_config(settings: Settings, instance_id: str | None) -> EngineConfig:
    topics = Topics(settings.topic_prefix)
    return EngineConfig(app_id=topics.dispatcher_app, input_topics=(topics.dispatch,),
                        changelog_topic=topics.dispatcher_changelog, instance_id=instance_id)


def run_dispatcher(settings: Settings, instance_id: str | None = None, metrics_port: int | None = None) -> None:
    metrics.serve(metrics_port)
    ensure_all_topics(settings)
    topics = Topics(settings.topic_prefix)
    codec = make_codec(settings.schema_registry_url)
    watch = WorkerWatch(settings, topics.workers, codec)
    watch.start(utcnow())
    caps: dict[str, int] = {}
    quotas = QuotaWatch(settings, topics.keys, codec, partial(fold_cap, caps), "dispatcher-quotas")
    quotas.start()
    handler = DispatchHandler(settings, watch.departures, quotas=quotas, caps=caps)
    engine = Engine(settings, engine_config(settings, instance_id), handler,
                    RecordSerde(codec, JobReady, topics.dispatcher_changelog))
    signal.signal(signal.SIGTERM, engine.stop)
    signal.signal(signal.SIGINT, engine.stop)
    try:
        code = engine.run()
    finally:
        watch.stop()
        quotas.stop()
    raise SystemExit(code)

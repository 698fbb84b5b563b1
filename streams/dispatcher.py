"""The dispatcher: matches ready executions to workers' credits, per queue.

It consumes the dispatch topic, keyed by queue, so that one queue's ready work and the credits of
the workers serving it meet in one partition, owned by one dispatcher instance. A match becomes
one message: an Assignment to the worker's partition of the assignments topic. The worker starts
at once, and its start records the lease (JobAssigned, JobStarted); the state processor fences
anything that lost a race (a cancel, a second worker with the same attempt) and tells the worker
to stop.

Ready executions are kept in a table (changelog), so a restarted dispatcher knows them; credits
are not: workers send fresh ones every few seconds, and one older than the credit TTL no longer
counts. After a restart or rebalance the credits read again from the topic (below the end offsets
as they were then) update the accounting but place nothing: each looks consistent on its own,
yet none knows what the previous owner sent since, and replaying a few seconds of a busy 1-slot
worker's credits once sent it six executions at a time.

Workers that go away (lost, draining, deregistered: the workers topic, keyed by worker_id) must
lose their credits in whichever instance holds their queues, and the two topics are partitioned
by different keys. So every instance reads all partitions of the workers topic, outside any
consumer group (``WorkerWatch``), starting one credit TTL back so that a restart misses nothing
that still matters.
"""

from __future__ import annotations

import asyncio
import logging
import pickle
import threading
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any

import faust
from confluent_kafka import Consumer, TopicPartition

from jobstream.clock import utcnow
from jobstream.config import Settings
from jobstream.core.dispatch import DEFAULT_CREDIT_TTL_S, DispatchBoard, Match, parse_queue_limits
from jobstream.infra.topics import Topics
from jobstream.schemas import (
    Assignment, Codec, JobReady, JobWithdrawn, WorkerCredit, WorkerDeregistered, WorkerDraining,
    MessageDecodeError, WorkerLost, make_codec,
)
from jobstream.streams.app import decoded, ensure_all_topics, make_app, partition_for, produce, raw_topic
from jobstream.streams import metrics
from jobstream.streams.kafka_io import consume_ready, consumer_config, end_offsets

log = logging.getLogger(__name__)



class Dispatcher:
    def __init__(self, settings: Settings, *, instance_id: str | None = None,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.topics = Topics(settings.topic_prefix)
        self.partitions = settings.partitions
        self.codec = make_codec(settings.schema_registry_url)
        self.clock = clock
        self.aging_step_s = settings.aging_step_s
        self.queue_limits = parse_queue_limits(settings.queue_limits)  # bad settings fail at start
        self.app = make_app(settings, self.topics.dispatcher_app, instance_id=instance_id)
        self.dispatch = raw_topic(self.app, self.topics.dispatch, self.partitions)
        self.ready = self.app.Table("ready", default=None, partitions=self.partitions, key_type=str, value_type=bytes)
        self.ready.on_recover(self._rebuild)
        self.board = self._new_board()
        self.settings = settings
        self.replayed_below: dict[int, int] = {}  # dispatch partition -> end offset at the last recovery
        self.app.agent(self.dispatch, name="dispatch")(self._process)
        self.watch = WorkerWatch(settings, self.topics.workers, self.codec)
        self.app.task(self._watch_workers)

    def _new_board(self) -> DispatchBoard:
        return DispatchBoard(aging_step_s=self.aging_step_s, credit_ttl_s=DEFAULT_CREDIT_TTL_S,
                             queue_limits=self.queue_limits)

    async def _rebuild(self) -> None:
        """After a rebalance: the board holds exactly the ready executions of our partitions."""
        self.board.reset(pickle.loads(value) for value in self.ready.data.values() if value)
        self.replayed_below = await asyncio.to_thread(end_offsets, self.settings, self.topics.dispatch)
        log.info("dispatcher recovered %d ready executions", len(self.board.ready))

    async def _process(self, stream: faust.StreamT) -> AsyncIterator[None]:
        async for event in stream.events():
            record = decoded(self.codec, event.message, "the dispatch topic holds derived data only")
            if record is not None:
                self._apply(record, live=event.message.offset >= self.replayed_below.get(event.message.partition, 0))
                for match in self.board.match(self.clock()):
                    await self._send(match)
            yield None

    def _apply(self, record: Any, live: bool = True) -> None:
        match record:
            case JobReady():
                self.board.add(record)
                if record.job_id in self.board.ready:
                    self.ready[record.job_id] = pickle.dumps(record)
            case JobWithdrawn():
                self.board.withdraw(record.job_id, record.attempt)
                if record.job_id not in self.board.ready and self.ready.get(record.job_id):
                    del self.ready[record.job_id]
            case WorkerCredit():
                self.board.offer(record, live)

    async def _watch_workers(self) -> None:
        """Forget the credits of every worker that is lost, draining or gone, in all queues."""
        await asyncio.to_thread(self.watch.start, self.clock())
        try:
            while True:
                for worker_id, at in await asyncio.to_thread(self.watch.departures):
                    log.info("worker %s departed: its credits no longer count", worker_id)
                    self.board.forget_worker(worker_id, at)
        finally:
            self.watch.close()

    async def _send(self, match: Match) -> None:
        """The assignment goes to the worker alone: its start is what records the lease (one command
        and one decision fewer per job; a worker lost before it starts has the assignment expired)."""
        job, now = match.job, self.clock()
        assignment = Assignment(job_id=job.job_id, execution_id=job.execution_id, attempt=job.attempt,
                                worker_id=match.worker_id, spec=job.spec, assigned_at=now)
        await produce(self.app, self.topics.assignments, match.worker_id.encode(),
                      self.codec.encode(assignment, self.topics.assignments),
                      partition_for(match.worker_id, self.partitions))
        if self.ready.get(job.job_id):
            del self.ready[job.job_id]
        metrics.ASSIGNMENTS.inc()


def run_dispatcher(settings: Settings, instance_id: str | None = None, metrics_port: int | None = None) -> None:
    metrics.serve(metrics_port)
    dispatcher = Dispatcher(settings, instance_id=instance_id)
    ensure_all_topics(settings)
    faust.Worker(dispatcher.app, loglevel="INFO", quiet=True).execute_from_commandline()


class WorkerWatch:
    """Reads every partition of the workers topic, without a group, for workers that depart."""

    DEPARTED = (WorkerLost, WorkerDraining, WorkerDeregistered)

    def __init__(self, settings: Settings, topic: str, codec: Codec) -> None:
        self.topic, self.codec = topic, codec
        self.consumer = Consumer(consumer_config(settings, f"dispatcher-watch-{uuid.uuid4().hex[:8]}"))
        self._lock = threading.Lock()  # close() waits for a poll in progress in another thread
        self._closed = False

    def start(self, now: datetime) -> None:
        """Assign all partitions from one credit TTL ago: older departures are moot (their credits expired)."""
        since_ms = int((now.timestamp() - DEFAULT_CREDIT_TTL_S) * 1000)
        partitions = self.consumer.list_topics(self.topic, timeout=30).topics[self.topic].partitions
        wanted = [TopicPartition(self.topic, p, since_ms) for p in partitions]
        self.consumer.assign(self.consumer.offsets_for_times(wanted, timeout=30))

    def departures(self) -> list[tuple[str, datetime]]:
        """(worker_id, when) of departures read within half a second; blocking, run it in a thread."""
        found = []
        with self._lock:
            messages = [] if self._closed else consume_ready(self.consumer, 500, 0.5)
        for message in messages:
            if message.error() is not None:
                continue
            try:
                record = self.codec.decode(message.value() or b"", topic=message.topic(),
                                           partition=message.partition(), offset=message.offset())
            except MessageDecodeError as error:  # the projector sets the workers topic's poison aside
                log.error("%s: skipped by the dispatcher's worker watch", error)
                continue
            if isinstance(record, self.DEPARTED):
                found.append((record.envelope.worker_id, record.envelope.occurred_at))
        return found

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self.consumer.close()

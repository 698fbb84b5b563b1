"""The dispatcher: matches ready executions to workers' credits, per queue.

It consumes the dispatch topic, keyed by queue, so that one queue's ready work and the credits of
the workers serving it meet in one partition, owned by one dispatcher instance. A match becomes
two messages: an Assignment to the worker's partition of the assignments topic, and an AssignJob
command so that the state processor records the lease. The worker starts at once; the state
processor fences anything that lost a race (a cancel, say) and tells the worker to stop.

Ready executions are kept in a table (changelog), so a restarted dispatcher knows them; credits
are not: workers send fresh ones every few seconds.
"""

from __future__ import annotations

import logging
import pickle
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import faust

from jobstream.config import Settings
from jobstream.core.dispatch import DispatchBoard, Match
from jobstream.infra.topics import Topics
from jobstream.schemas import (
    AssignJob, Assignment, JobReady, JobWithdrawn, WorkerCredit, make_codec,
)
from jobstream.streams.app import decoded, ensure_all_topics, make_app, partition_for, produce, raw_topic
from jobstream.streams import metrics
from jobstream.streams.kafka_io import command_envelope

log = logging.getLogger(__name__)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Dispatcher:
    def __init__(self, settings: Settings, *, instance_id: str | None = None,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.topics = Topics(settings.topic_prefix)
        self.partitions = settings.partitions
        self.codec = make_codec(settings.schema_registry_url)
        self.clock = clock
        self.app = make_app(settings, self.topics.dispatcher_app, instance_id=instance_id)
        self.dispatch = raw_topic(self.app, self.topics.dispatch, self.partitions)
        self.ready = self.app.Table("ready", default=None, partitions=self.partitions, key_type=str, value_type=bytes)
        self.ready.on_recover(self._rebuild)
        self.board = DispatchBoard()
        self.app.agent(self.dispatch, name="dispatch")(self._process)

    async def _rebuild(self) -> None:
        """After a rebalance: the board holds exactly the ready executions of our partitions."""
        self.board = DispatchBoard()
        for value in self.ready.data.values():
            if value:
                self.board.add(pickle.loads(value))
        log.info("dispatcher recovered %d ready executions", len(self.board.ready))

    async def _process(self, stream: faust.StreamT) -> AsyncIterator[None]:
        async for event in stream.events():
            record = decoded(self.codec, event.message, "the dispatch topic holds derived data only")
            if record is not None:
                self._apply(record)
                for match in self.board.match(self.clock()):
                    await self._send(match)
            yield None

    def _apply(self, record: Any) -> None:
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
                self.board.offer(record)

    async def _send(self, match: Match) -> None:
        job, now = match.job, self.clock()
        assignment = Assignment(job_id=job.job_id, execution_id=job.execution_id, attempt=job.attempt,
                                worker_id=match.worker_id, spec=job.spec, assigned_at=now)
        command = AssignJob(envelope=command_envelope(AssignJob, job.job_id, "dispatcher", now=now,
                                                      command_id=f"assign:{job.execution_id}"),
                            execution_id=job.execution_id, attempt=job.attempt, worker_id=match.worker_id)
        await produce(self.app, self.topics.commands, job.job_id.encode(),
                      self.codec.encode(command, self.topics.commands), partition_for(job.job_id, self.partitions))
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

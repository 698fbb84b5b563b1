"""The job state processor: the only writer of job events.

A faust agent consumes commands keyed by job_id, decides with the pure ``decide``, appends the
events to the same partition of the events topic, and folds them into a table keyed by job_id.

Exactly one effect per transition, without relying on faust's exactly_once mode:
- events carry deterministic ids and per-job sequence numbers, and a redelivered command whose id
  the job has applied decides nothing;
- events are sent before the table's changelog record, so the changelog is never ahead of them;
- after a crash the table can be behind the events topic, so recovery folds the events written
  since the last marker before any command is processed (``_catch_up``), and a replayed command
  is then recognised instead of deciding (and emitting) a second time.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import pickle
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import faust
from confluent_kafka import Consumer, TopicPartition

from jobstream.config import Settings
from jobstream.core.decide import decide
from jobstream.core.state import SETTLED, TERMINAL, JobState, evolve, tombstone
from jobstream.infra.topics import Topics
from jobstream.schemas import Command, CommandRejected, JobEvent, MessageDecodeError, ReportRejected, make_codec
from jobstream.streams import metrics
from jobstream.streams.app import ensure_all_topics, make_app, partition_for, produce, raw_topic
from jobstream.streams.kafka_io import consumer_config, end_offset
from jobstream.streams.recovery import RecoveredDecision, fold_recovered
from jobstream.streams.side_effects import SideEffects

log = logging.getLogger(__name__)

MARKER_PREFIX = "\x00events-offset:"
MARKER_EVERY_S = 0.5
RETIRE_EVERY_S = 10.0
RETIRE_AT_MOST = 20_000  # per tick: a large backlog (after an upgrade) is worked off over several


class UndecidableCommand(Exception):
    """``decide`` raised on a command: a bug, or an input no validation foresaw."""


def utcnow() -> datetime:
    return datetime.now(UTC)


class StateProcessor:
    """Wires the agent, the table and the topics of one state-processor process."""

    def __init__(self, settings: Settings, *, instance_id: str | None = None,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.settings = settings
        self.topics = Topics(settings.topic_prefix)
        self.codec = make_codec(settings.schema_registry_url)
        self.clock = clock
        self.app = make_app(settings, self.topics.state_processor_app, instance_id=instance_id)
        partitions = settings.partitions
        self.commands = raw_topic(self.app, self.topics.commands, partitions)
        self.poison = raw_topic(self.app, self.topics.poison, 1)
        self.side_effects = SideEffects(self.app, self.topics, self.codec, partitions)
        # The changelog holds pickled JobState snapshots; ``states`` caches them decoded.
        self.jobs = self.app.Table("jobs", default=None, partitions=partitions, key_type=str, value_type=bytes)
        self.jobs.on_recover(self._catch_up)
        self.states: dict[str, JobState] = {}  # jobs still going; settled ones are read back if needed
        self.retention = timedelta(seconds=settings.state_retention_s)
        self.settling: list[tuple[datetime, str]] = []  # heap of (settled at, job_id), to slim down
        self._resending: asyncio.Future[None] | None = None
        self._finding: asyncio.Future[None] | None = None
        self.acked: dict[int, int] = {}
        self.marker_written_at: dict[int, float] = {}
        self.app.agent(self.commands, name="decide")(self._process)
        self.app.timer(RETIRE_EVERY_S)(self._retire)

    # -- the agent ------------------------------------------------------------------------

    async def _process(self, stream: faust.StreamT) -> AsyncIterator[None]:
        async for event in stream.events():
            message = event.message
            command = await self._decode(message)
            if command is not None:
                try:
                    await self._handle(command, message.partition)
                except UndecidableCommand as error:  # set aside: it must not stall its partition
                    log.error("%s", error, exc_info=error.__cause__)
                    await self._set_aside(message, str(error))
            self._maybe_write_marker(message.partition)
            yield None

    async def _decode(self, message: Any) -> Command | None:
        try:
            record = self.codec.decode(message.value or b"", topic=message.topic,
                                       partition=message.partition, offset=message.offset)
        except MessageDecodeError as error:
            await self._set_aside(message, error.reason)
            return None
        if not isinstance(record, Command):
            await self._set_aside(message, f"{type(record).__name__} is not a command")
            return None
        return record

    async def _set_aside(self, message: Any, reason: str) -> None:
        metrics.POISON.labels("state-processor").inc()
        log.error("poison command set aside: topic=%s partition=%d offset=%d: %s",
                  message.topic, message.partition, message.offset, reason)
        headers = {"origin.topic": message.topic, "origin.partition": str(message.partition),
                   "origin.offset": str(message.offset), "reason": reason}
        await self.poison.send(key=message.key, value=message.value,
                               headers=[(k, v.encode()) for k, v in headers.items()])

    async def _handle(self, command: Command, partition: int) -> None:
        started = time.perf_counter()
        job_id = command.envelope.job_id
        metrics.COMMANDS.labels(command.envelope.type).inc()
        before = self._state(job_id)
        try:
            events = decide(before, command, self.clock())
        except Exception as error:  # decide never raises by design; if a bug makes it, nothing was written
            raise UndecidableCommand(f"{command.envelope.type} {command.envelope.command_id} for job {job_id}: "
                                     f"decide failed: {type(error).__name__}: {error}") from error
        if not events:
            return
        await self._commit(before, before, events, events, partition)
        metrics.DECIDE_SECONDS.observe(time.perf_counter() - started)

    async def _commit(self, origin: JobState, state: JobState, new: list[JobEvent], decision: list[JobEvent],
                      partition: int) -> None:
        """Append ``new`` events, send the side effects of the whole ``decision``, then store the state."""
        for job_event in new:
            state = evolve(state, job_event)
            await self._append(job_event, partition)
            metrics.EVENTS.labels(job_event.envelope.type).inc()
            if isinstance(job_event, (CommandRejected, ReportRejected)):
                metrics.REJECTIONS.labels(job_event.envelope.type).inc()
        await self.side_effects.after(origin, state, decision)
        job_id = state.job_id
        self.jobs[job_id] = pickle.dumps(state)  # after the events: the changelog is never ahead of them
        if state.exists and state.status not in TERMINAL:
            self.states[job_id] = state
        else:  # final (rarely asked about again) or never submitted: the table has it
            self.states.pop(job_id, None)
            if state.status in SETTLED and origin.status not in SETTLED and state.updated_at is not None:
                heapq.heappush(self.settling, (state.updated_at, job_id))

    def _state(self, job_id: str) -> JobState:
        """The job's state: decoded from the cache of jobs still going, else from the table."""
        state = self.states.get(job_id)
        if state is None:
            stored = self.jobs.get(job_id)
            state = pickle.loads(stored) if stored else JobState(job_id)
        return state

    async def _append(self, job_event: JobEvent, partition: int) -> None:
        value = self.codec.encode(job_event, self.topics.events)
        future = await produce(self.app, self.topics.events, job_event.envelope.job_id.encode(), value, partition)
        future.add_done_callback(lambda done: self._on_acked(partition, done))

    def _on_acked(self, partition: int, done: asyncio.Future[Any]) -> None:
        if not done.cancelled() and done.exception() is None:
            self.acked[partition] = max(self.acked.get(partition, -1), done.result().offset)

    def _maybe_write_marker(self, partition: int) -> None:
        """Remember, in the table's changelog, how far the events of this partition are folded."""
        now = time.monotonic()
        if partition in self.acked and now - self.marker_written_at.get(partition, 0.0) >= MARKER_EVERY_S:
            self.jobs[f"{MARKER_PREFIX}{partition}"] = pickle.dumps(self.acked[partition])
            self.marker_written_at[partition] = now

    # -- retirement -----------------------------------------------------------------------

    async def _retire(self) -> None:
        """Slim settled jobs down to their tombstone once settled for ``retention``: memory grows
        with the jobs going on, not with every job ever run."""
        ours = self._assigned()
        cutoff = self.clock() - self.retention
        retired = 0
        while self.settling and self.settling[0][0] <= cutoff and retired < RETIRE_AT_MOST:
            _, job_id = heapq.heappop(self.settling)
            partition = partition_for(job_id, self.settings.partitions)
            state = self._stored_state(job_id)
            if partition not in ours or state.status not in SETTLED or state.spec is None or state.active_runs:
                continue  # moved to another instance, slim already, or still hearing from its runs
            self.jobs.data[job_id] = pickle.dumps(tombstone(state))  # read and written without a pause
            self.jobs.send_changelog(partition, job_id, self.jobs.data[job_id])
            metrics.RETIRED.inc()
            retired += 1
            if retired % 500 == 0:
                await asyncio.sleep(0)  # let commands through

    def _assigned(self) -> set[int]:
        return {tp.partition for tp in self.app.assignor.assigned_actives() if tp.topic == self.topics.commands}

    async def _find_settled(self) -> None:
        """After recovery: queue the settled jobs of our partitions for retirement (in slices, so
        that commands are not held up while a large table is read)."""
        self.settling = []
        for index, (job_id, value) in enumerate(list(self.jobs.data.items())):
            if value and not job_id.startswith(MARKER_PREFIX):
                state: JobState = pickle.loads(value)
                if state.status in SETTLED and state.spec is not None and state.updated_at is not None:
                    self.settling.append((state.updated_at, job_id))
            if index % 5000 == 4999:
                await asyncio.sleep(0)
        heapq.heapify(self.settling)

    # -- recovery -------------------------------------------------------------------------

    async def _catch_up(self) -> None:
        """Fold events that reached the topic after the last changelog record (a crash in between),
        and send their side effects again: those may not have reached their topics."""
        self.states.clear()  # partitions may have moved: read states from the recovered table
        resend: list[RecoveredDecision] = []
        partitions = sorted(tp.partition for tp in self.app.assignor.assigned_actives()
                            if tp.topic == self.topics.commands)
        for partition in partitions:
            marker = self.jobs.data.get(f"{MARKER_PREFIX}{partition}")
            start = (pickle.loads(marker) if marker else -1) + 1
            messages = await asyncio.to_thread(read_partition, self.settings, self.topics.events, partition, start)
            recovery = fold_recovered(self._decoded(messages, partition), self._stored_state)
            for job_id, state in recovery.states.items():
                self.jobs.data[job_id] = pickle.dumps(state)
                self.jobs.send_changelog(partition, job_id, self.jobs.data[job_id])
            resend.extend(recovery.decisions)
            if recovery.decisions:
                log.warning("partition %d: folded %d decisions written after the last changelog record",
                            partition, len(recovery.decisions))
        if resend:  # after the callback: faust's recovery must not wait on our produces
            self._resending = asyncio.ensure_future(self._resend(resend))
        self._finding = asyncio.ensure_future(self._find_settled())

    async def _resend(self, decisions: list[RecoveredDecision]) -> None:
        for decision in decisions:
            await self.side_effects.after(decision.before, decision.after(), decision.events)

    def _decoded(self, messages: list[tuple[int, bytes]], partition: int) -> Iterator[JobEvent]:
        for offset, value in messages:
            try:
                record = self.codec.decode(value, topic=self.topics.events, partition=partition, offset=offset)
            except MessageDecodeError as error:
                log.error("%s (skipped during catch-up; the projector sets it aside)", error)
                continue
            if isinstance(record, JobEvent):
                yield record

    def _stored_state(self, job_id: str) -> JobState:
        stored = self.jobs.data.get(job_id)
        return pickle.loads(stored) if stored else JobState(job_id)


def read_partition(settings: Settings, topic: str, partition: int, start: int) -> list[tuple[int, bytes]]:
    """Every (offset, value) of one partition from ``start`` to the end as of now."""
    consumer = Consumer(consumer_config(settings, f"{settings.topic_prefix}.catch-up", **{"enable.partition.eof": True}))
    try:
        high = end_offset(consumer, TopicPartition(topic, partition))
        low = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)[0]
        start = max(start, low)
        if start >= high:
            return []
        consumer.assign([TopicPartition(topic, partition, start)])
        out: list[tuple[int, bytes]] = []
        deadline = time.monotonic() + 60
        position = start
        while position < high:
            if time.monotonic() > deadline:
                raise TimeoutError(f"catch-up of {topic}[{partition}] stalled at offset {position} of {high}")
            for message in consumer.consume(500, 0.2):
                offset, value = message.offset(), message.value()
                if message.error() is None and offset is not None and value is not None:
                    out.append((offset, value))
            position = consumer.position([TopicPartition(topic, partition)])[0].offset
        return out
    finally:
        consumer.close()


def run_state_processor(settings: Settings, instance_id: str | None = None, metrics_port: int | None = None) -> None:
    metrics.serve(metrics_port)
    processor = StateProcessor(settings, instance_id=instance_id)
    ensure_all_topics(settings)
    faust.Worker(processor.app, loglevel="INFO", quiet=True).execute_from_commandline()

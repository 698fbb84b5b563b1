"""The projector: the events, workers and templates topics into the Postgres read model, one transaction
per batch; the commands set aside on the poison topic too, and what became of each command to the
command-results topic.

Exactly-once effect without Kafka transactions: each batch's rows and the next offsets of its
partitions (projection_offsets) commit in one Postgres transaction, and on assignment the consumer
starts from those stored offsets. Kafka commits happen too, for lag monitoring only. Redelivered or
duplicated events are skipped by their per-aggregate seq (mapping.py). An undecodable message goes
to the poison topic with its origin and the projector moves on.

A batch is whatever the consumer has ready (no linger). Its transaction (load the rows it touches,
fold, write, offsets, NOTIFY) runs on a writer thread while the next batch is consumed and decoded;
at most one is in flight and the next starts only after it committed, so batches stay in order and
each one reads what the one before wrote.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, cast

import psycopg
from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    IsolationLevel,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, OffsetSpec

from jobstream.config import Settings
from jobstream.infra.topics import Topics
from jobstream.schemas import (
    AuditEntry,
    JobEvent,
    MessageDecodeError,
    PoisonMessage,
    Record,
    Template,
    WorkerEvent,
    make_codec,
)
from jobstream.streams.kafka_io import (
    Publisher,
    admin_config,
    consume_ready,
    consumer_config,
    decode_or_poison,
    producer_config,
    serve_rebalances,
    set_aside,
)
from jobstream.streams.kafka_security import client_security
from jobstream.streams.metrics import CONSUMER_LAG

from . import metrics
from .command_results import poisoned_row
from .inflight import InFlight
from .rows import PoisonedRow
from .schema import DEFAULT_SCHEMA, connect, ensure_schema, notify_channel
from .store import PartitionKey as Key
from .store import keep_projecting, load_batch, load_offsets, load_results, prepare_connection, write_batch

log = logging.getLogger(__name__)

BATCH_SIZE = 2000  # a cap, not a target: a batch is whatever the consumer has ready
POLL_TIMEOUT_S = 0.05
LAG_EVERY_S = 1.0
MAX_BACKOFF_S = 5.0
# A partition's leader being elected or moved: asking again soon gets an answer.
LEADER_MOVING = frozenset({KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError.LEADER_NOT_AVAILABLE})
# Errors that the same rows would raise again (bad values), unlike a lost connection.
BAD_DATA = (psycopg.DataError, psycopg.IntegrityError, ValueError)


@dataclass
class Counts:
    messages: int = 0
    applied: int = 0
    duplicates: int = 0
    poisoned: int = 0


@dataclass(frozen=True)
class Decoded:
    """A consumed batch, decoded: the records to apply and the next offset of each partition it read."""

    messages: int
    items: list[tuple[Message, Record]]
    offsets: dict[Key, int]
    poisoned: int  # undecodable or of the wrong kind, already set aside
    seconds: float  # spent decoding
    set_aside_commands: list[PoisonedRow]  # read from the poison topic: commands never decided


@dataclass(frozen=True)
class Written:
    """What the transaction of one batch did."""

    applied: int = 0
    duplicates: int = 0
    set_aside: int = 0  # refused by the mapping or by Postgres
    decided: tuple[str, ...] = ()  # the commands it has news of (new events, or set aside)

    def __add__(self, other: Written) -> Written:
        return Written(self.applied + other.applied, self.duplicates + other.duplicates,
                       self.set_aside + other.set_aside, self.decided + other.decided)


class Projector:
    """One consumer, one Postgres connection. ``manual`` assigns every partition itself (replay, bench)
    instead of joining the projector's consumer group; without ``publish_poison`` undecodable messages
    are only logged and counted (a replay must not set the same message aside a second time)."""

    def __init__(self, settings: Settings, schema: str = DEFAULT_SCHEMA, *, group_id: str | None = None,
                 manual: bool = False, publish_poison: bool = True) -> None:
        self.settings = settings
        self.schema = schema
        self.channel = notify_channel(schema)
        self.topics = Topics(settings.topic_prefix)
        self.expected: dict[str, type[Record]] = {self.topics.events: JobEvent, self.topics.workers: WorkerEvent,
                                                  self.topics.templates: Template, self.topics.audit: AuditEntry}
        self.reads = [*self.expected, self.topics.poison]  # the poison topic for the commands set aside
        self.codec = make_codec(settings.schema_registry_url)
        self.manual = manual
        self.publish_poison = publish_poison
        self.counts = Counts()
        self.positions: dict[Key, int] = {}  # next offset per assigned partition, as committed to Postgres
        self.assigned = False  # becomes True at the first assignment, even an empty one
        self._pending: list[TopicPartition] = []  # an assignment whose offsets could not be loaded yet
        self._lag_at = 0.0
        self.conn = self._connect()
        # The batch whose transaction runs while the next one is consumed and decoded; only it uses conn.
        self.writer: InFlight[tuple[Decoded, Written]] = InFlight("projector-writer")
        group = group_id or Topics(settings.topic_prefix).projector_group
        self.lag = CONSUMER_LAG.labels(group)
        self.consumer = Consumer(consumer_config(settings, group))
        self.poison = Producer(producer_config(settings))
        self.results = Publisher(settings, self.codec)
        self._undelivered: list[str] = []  # delivery errors of command results, logged once a batch
        if manual:
            self._assign(self._all_partitions())
        else:
            self.consumer.subscribe(self.reads, on_assign=self._on_assign, on_revoke=self._on_revoke,
                                    on_lost=self._on_revoke)

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> Projector:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        try:
            self._settle()
        except Exception as error:  # noqa: BLE001 - closing anyway; Postgres kept the last good offsets
            log.error("the last batch was not written: %s", error)
        self.writer.close()
        serve_rebalances(self.consumer)
        self.consumer.close()
        self.poison.flush(10)
        self.poison.close()
        self.results.flush(10)
        self.conn.close()

    def run(self, stop: threading.Event) -> None:
        """Project until ``stop`` is set. A database failure rolls the batch back, waits, reconnects and
        resumes from the offsets stored in Postgres, so nothing is lost or applied twice."""
        keep_projecting(self.poll_once, self._recover, stop, "projector", MAX_BACKOFF_S)

    def run_until_caught_up(self, timeout_s: float = 120.0,
                            progress: Callable[[int, int], None] | None = None) -> Counts:
        """Consume until every assigned partition reaches the high watermark it had when this was called;
        ``progress(messages read, messages to read)`` after each batch (a replay's progress bar)."""
        targets = self._watermarks()
        total = sum(max(0, high - low) for low, high in targets.values())
        deadline = time.monotonic() + timeout_s
        while True:
            self.poll_once()
            if progress is not None:
                progress(min(self.counts.messages, total), total)
            if self.assigned and not self.writer.busy and self._reached(targets):
                return self.counts
            if time.monotonic() > deadline:
                raise TimeoutError(f"projector not caught up after {timeout_s}s: at {self.positions}, "
                                   f"targets {targets}")

    # ------------------------------------------------------------------ one batch
    def poll_once(self) -> int:
        """Consume and decode a batch while the previous one commits, then start its transaction;
        returns the number of messages consumed. A database error of the previous batch is raised here."""
        messages = consume_ready(self.consumer, BATCH_SIZE, POLL_TIMEOUT_S)
        decoded = self._decode_all(messages) if messages else None
        self._settle()
        if decoded is not None:
            self.writer.start(lambda: (decoded, self._write(decoded)))
        self._update_lag()
        return len(messages)

    def _decode_all(self, messages: list[Message]) -> Decoded:
        started = time.perf_counter()
        offsets: dict[Key, int] = {}
        items: list[tuple[Message, Record]] = []
        poisoned = 0
        set_aside_commands: list[PoisonedRow] = []
        for message in messages:
            if self._consumer_error(message):
                continue
            if message.topic() == self.topics.poison:
                set_aside_commands += self._poisoned_command(message, offsets)
                continue
            record = self._decode(message, offsets)
            if record is None:
                poisoned += 1
            else:
                items.append((message, record))
        return Decoded(len(messages), items, offsets, poisoned, time.perf_counter() - started, set_aside_commands)

    def _settle(self) -> None:
        """Wait for the batch in flight, then count it and move the positions past it."""
        done = self.writer.settle()
        if done is None:
            return
        decoded, written = done
        self.positions.update(decoded.offsets)
        self.counts.messages += decoded.messages
        self.counts.applied += written.applied
        self.counts.duplicates += written.duplicates
        self.counts.poisoned += decoded.poisoned + written.set_aside
        metrics.EVENTS_APPLIED.inc(written.applied)
        metrics.DUPLICATES.inc(written.duplicates)
        metrics.POISONED.inc(decoded.poisoned + written.set_aside)
        if not self.manual and decoded.offsets:  # for monitoring only: Postgres holds the real positions
            self.consumer.commit(offsets=[TopicPartition(t, p, o) for (t, p), o in decoded.offsets.items()],
                                 asynchronous=True)

    def _write(self, decoded: Decoded) -> Written:
        """The batch's transaction (on the writer thread): fold and write the records with the offsets."""
        started = time.perf_counter()
        try:
            written = self._commit(decoded.items, decoded.offsets, decoded.set_aside_commands)
        except BAD_DATA as error:
            log.error("Postgres refused a batch (%s): retrying it event by event to set the bad ones aside", error)
            written = self._commit_one_by_one(decoded.items, decoded.offsets, decoded.set_aside_commands)
        metrics.BATCH_SECONDS.observe(decoded.seconds + time.perf_counter() - started)
        if self.publish_poison and written.decided:
            self._publish_results(list(dict.fromkeys(written.decided)))
        return written

    def _publish_results(self, command_ids: list[str]) -> None:
        """After the commit, so that neither the read nor the sends delay the batch's visibility; sent
        without waiting (librdkafka delivers them while the next batch is read), failures logged once a batch."""
        with self.conn.transaction():
            results = load_results(self.conn, command_ids)
        for result in results:
            self.results.publish(self.topics.command_results, result.command_id, result, self._delivered)
        self.results.poll(0)
        if self._undelivered:
            log.error("%d command results not delivered to %s, e.g.: %s", len(self._undelivered),
                      self.topics.command_results, self._undelivered[0])
            self._undelivered.clear()

    def _delivered(self, error: KafkaError | None, _: Message) -> None:
        if error is not None:
            self._undelivered.append(str(error))

    def _commit(self, items: list[tuple[Message, Record]], offsets: dict[Key, int],
                set_aside_commands: list[PoisonedRow]) -> Written:
        """Load, fold and write the records and the offsets in one transaction."""
        set_aside = 0
        with self.conn.transaction():
            batch = load_batch(self.conn, [record for _, record in items])
            batch.poisoned.update((row.command_id, row) for row in set_aside_commands)
            for message, record in items:
                try:
                    batch.apply(record)
                except Exception as error:  # noqa: BLE001 - a mapping bug must not wedge the projection
                    self._set_aside(message, f"projection failed: {type(error).__name__}: {error}")
                    set_aside += 1
            write_batch(self.conn, batch, offsets, self.channel)
        return Written(batch.applied, batch.duplicates, set_aside, tuple(batch.decided()))

    def _commit_one_by_one(self, items: list[tuple[Message, Record]], offsets: dict[Key, int],
                           set_aside_commands: list[PoisonedRow]) -> Written:
        """A batch Postgres refuses is bad data, not a bad moment: retrying it would loop forever.
        Write its events one at a time and set aside those refused."""
        written = Written()
        for message, record in items:
            try:
                written += self._commit([(message, record)], {}, [])
            except BAD_DATA as error:
                self._set_aside(message, f"refused by Postgres: {type(error).__name__}: {error}")
                written += Written(set_aside=1)
        self._commit([], offsets, set_aside_commands)
        return written

    def _consumer_error(self, message: Message) -> bool:
        error = message.error()
        if error is None:
            return False
        if error.fatal():
            raise KafkaException(error)
        log.warning("consumer error: %s", error)
        return True

    def _decode(self, message: Message, offsets: dict[Key, int]) -> Record | None:
        """The message's record; None once it is set aside (undecodable, or the wrong kind for its topic)."""
        topic, partition, offset = where(message)
        offsets[(topic, partition)] = offset + 1
        record = self._decode_value(message)
        if record is None:
            return None
        expected = self.expected[topic]
        if not isinstance(record, expected):
            self._set_aside(message, f"{type(record).__name__} is not a {expected.__name__}")
            return None
        return record

    def _poisoned_command(self, message: Message, offsets: dict[Key, int]) -> list[PoisonedRow]:
        """The command a poison message holds, if it was one with a readable id (else nothing to file)."""
        topic, partition, offset = where(message)
        offsets[(topic, partition)] = offset + 1
        headers = dict(cast(list[tuple[str, bytes]], message.headers() or []))
        row = poisoned_row(headers, message.key(), message.value(), message.timestamp()[1], self.topics.commands,
                           self.codec)
        return [] if row is None else [row]

    def _decode_value(self, message: Message) -> Record | None:
        if self.publish_poison:
            return decode_or_poison(self.codec, message, self.poison, self.topics)
        topic, partition, offset = where(message)
        try:
            return self.codec.decode(message.value() or b"", topic=topic, partition=partition, offset=offset)
        except MessageDecodeError as error:
            log.warning("skipping undecodable message (set aside when first projected): %s", error)
            return None

    def _set_aside(self, message: Message, reason: str) -> None:
        """Publish the message on the poison topic (the caller counts it); called from both threads."""
        topic, partition, offset = where(message)
        if not self.publish_poison:
            log.warning("skipping %s[%d]@%d: %s", topic, partition, offset, reason)
            return
        set_aside(self.poison, self.topics, PoisonMessage(topic, partition, offset, message.key(), message.value(),
                                                          reason))

    # ------------------------------------------------------------------ partitions and positions
    def _connect(self) -> psycopg.Connection[Any]:
        conn = connect(self.settings.database_url, self.schema)
        ensure_schema(conn, self.schema)
        prepare_connection(conn)
        return conn

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._pending = partitions  # kept until assigned, in case Postgres is down right now
        self._settle_for_rebalance()  # the batch in flight owns the connection until it commits
        self._assign(partitions)
        self._pending = []

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._settle_for_rebalance()  # commit what was read before another projector takes the partitions
        for tp in partitions:
            self.positions.pop((tp.topic, tp.partition), None)

    def _settle_for_rebalance(self) -> None:
        """A batch that fails now is simply not applied: its partitions restart from the offsets in Postgres."""
        try:
            self._settle()
        except psycopg.Error as error:
            log.error("the batch in flight failed (%s); its partitions restart from the stored offsets", error)

    def _assign(self, partitions: list[TopicPartition]) -> None:
        """Start each partition where Postgres says the read model stands (or at the beginning)."""
        stored = load_offsets(self.conn, self.reads)
        for tp in partitions:
            tp.offset = stored.get((tp.topic, tp.partition), OFFSET_BEGINNING)
            self.positions[(tp.topic, tp.partition)] = stored.get((tp.topic, tp.partition), 0)
        self.consumer.assign(partitions)
        self.assigned = True

    def _recover(self) -> None:
        """After a failed batch: reconnect if needed and rewind the consumer to the stored offsets
        (a failure here is one more of the outage's attempts, retried by ``keep_projecting``)."""
        if self.conn.closed or self.conn.broken:
            self.conn = self._connect()
        assignment = self.consumer.assignment() or self._pending
        if assignment:
            self._assign(assignment)
            self._pending = []

    def _all_partitions(self) -> list[TopicPartition]:
        metadata = self.consumer.list_topics(timeout=10)
        return [TopicPartition(topic, partition)
                for topic in self.reads if topic in metadata.topics
                for partition in sorted(metadata.topics[topic].partitions)]

    def _watermarks(self, timeout_s: float = 30.0) -> dict[Key, tuple[int, int]]:
        """(low, end) of every partition of the topics, in two batched requests. The end is the last
        stable offset: as far as a read_committed consumer can get. A partition of a topic created a
        moment ago may have no leader yet (a topic nobody wrote to, say): asked again until one is."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                return self._list_watermarks()
            except KafkaException as error:
                if error.args[0].code() not in LEADER_MOVING or time.monotonic() > deadline:
                    raise
                log.info("asking for watermarks again: %s", error)
                time.sleep(0.2)  # a retry interval bounded by the deadline above

    def _list_watermarks(self) -> dict[Key, tuple[int, int]]:
        partitions = self._all_partitions()
        if not partitions:
            return {}
        admin = AdminClient(admin_config(self.settings.kafka_bootstrap, **client_security(self.settings)))
        asked = [admin.list_offsets({tp: spec for tp in partitions}, isolation_level=IsolationLevel.READ_COMMITTED,
                                    request_timeout=10) for spec in (OffsetSpec.earliest(), OffsetSpec.latest())]
        low, end = ({(tp.topic, tp.partition): future.result().offset for tp, future in futures.items()}
                    for futures in asked)
        return {key: (low[key], end[key]) for key in end}

    def _reached(self, targets: dict[Key, tuple[int, int]]) -> bool:
        """Every assigned partition is at its target (positions past control records count too)."""
        assignment = self.consumer.assignment()
        consumed = {(tp.topic, tp.partition): tp.offset for tp in self.consumer.position(assignment)}
        for tp in assignment:
            key = (tp.topic, tp.partition)
            low, high = targets.get(key, (0, 0))
            if max(self.positions.get(key, 0), consumed.get(key, -1), low) < high:
                return False
        return True

    def _update_lag(self) -> None:
        now = time.monotonic()
        if now - self._lag_at < LAG_EVERY_S:
            return
        self._lag_at = now
        lag = 0
        for tp in self.consumer.assignment():
            _, high = self.consumer.get_watermark_offsets(tp, cached=True)
            if high >= 0:
                lag += max(0, high - self.positions.get((tp.topic, tp.partition), 0))
        self.lag.set(lag)


def where(message: Message) -> tuple[str, int, int]:
    """Topic, partition and offset of a consumed message (always set when it carries no error)."""
    return cast(str, message.topic()), cast(int, message.partition()), cast(int, message.offset())


def run_projector(settings: Settings, schema: str = DEFAULT_SCHEMA) -> None:
    """The long-running projector process: runs until SIGTERM or SIGINT, then closes cleanly."""
    stop = threading.Event()
    previous: dict[signal.Signals, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous[sig] = signal.signal(sig, lambda *_: stop.set())
    try:
        with Projector(settings, schema) as projector:
            log.info("projecting %s into schema %s; command results to %s", ", ".join(projector.reads), schema,
                     projector.topics.command_results)
            projector.run(stop)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

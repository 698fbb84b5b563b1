"""The logs projector: the logs topic into ``execution_logs``, its offsets in the same transaction.

A process of its own (``jobstream logs-projector``), apart from the job projector, so that bulky
output never delays job state. Chunks are inserted with ON CONFLICT DO NOTHING on
(execution_id, seq): a redelivered chunk is harmless. The next offset of each partition is
stored in ``projection_offsets`` in the batch's transaction, and a (re)assigned partition starts
from there, so nothing is lost or applied twice. Undecodable messages go to the poison topic.
"""

from __future__ import annotations

import logging
import signal
import threading
from importlib import resources
from typing import Any

import psycopg
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, Message, Producer, TopicPartition
from prometheus_client import Counter
from psycopg import sql

from jobstream.config import Settings
from jobstream.infra.topics import Topics
from jobstream.schemas import LogChunk, PoisonMessage, make_codec
from jobstream.streams.kafka_io import (
    BATCHED_FETCH,
    consume_ready,
    consumer_config,
    decode_or_poison,
    producer_config,
    serve_rebalances,
    set_aside,
)
from jobstream.streams.kafka_security import client_security

from .log_retention import LogPurger, align_topic_retention
from .schema import DEFAULT_SCHEMA, connect, ensure_schema, validate_schema
from .store import UPSERT_OFFSETS, PartitionKey, keep_projecting, load_offsets

log = logging.getLogger(__name__)

BATCH_SIZE = 1000
POLL_TIMEOUT_S = 0.05
MAX_BACKOFF_S = 5.0
BAD_DATA = (psycopg.DataError, psycopg.IntegrityError)
CHUNKS = Counter("jobstream_logs_projector_chunks_total", "Log chunks written to execution_logs (duplicates included).")
POISONED = Counter("jobstream_logs_projector_poisoned_total", "Messages of the logs topic set aside as poison.")

COLUMNS = ("execution_id", "seq", "job_id", "attempt", "stream", "data", "at", "truncated", "eof", "dropped_bytes")
TYPES = ("text", "bigint", "text", "int", "text", "text", "timestamptz", "boolean", "boolean", "bigint")
INSERT_CHUNKS = (f"INSERT INTO execution_logs ({', '.join(COLUMNS)}) SELECT * FROM unnest("
                 + ", ".join(f"%s::{t}[]" for t in TYPES) + ") ON CONFLICT DO NOTHING")


def logs_ddl() -> str:
    return resources.files("jobstream.projections").joinpath("sql/logs.sql").read_text()


def ensure_logs_schema(conn: psycopg.Connection[Any], schema: str) -> None:
    """The read model's schema (for projection_offsets) and the execution_logs table; safe to repeat."""
    ensure_schema(conn, schema)
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (validate_schema(schema),))
        conn.execute(sql.SQL("SET LOCAL search_path TO {}").format(sql.Identifier(schema)))
        conn.execute(logs_ddl().encode())


def chunk_row(chunk: LogChunk) -> tuple[Any, ...]:
    data = chunk.data.replace("\x00", "\ufffd")  # a foreign producer may send what Postgres text refuses
    return (chunk.execution_id, chunk.seq, chunk.job_id, chunk.attempt, chunk.stream, data, chunk.at,
            chunk.truncated, chunk.eof, chunk.dropped_bytes)


def write_chunks(conn: psycopg.Connection[Any], rows: list[tuple[Any, ...]], offsets: dict[PartitionKey, int]) -> None:
    """Insert the rows and store the offsets, in one transaction."""
    with conn.transaction():
        if rows:
            conn.execute(INSERT_CHUNKS, [list(column) for column in zip(*rows, strict=True)])  # type: ignore[arg-type]
        if offsets:
            keys = list(offsets)
            conn.execute(UPSERT_OFFSETS, ([t for t, _ in keys], [p for _, p in keys], [offsets[k] for k in keys]))


class LogsProjector:
    def __init__(self, settings: Settings, schema: str = DEFAULT_SCHEMA, group_id: str | None = None) -> None:
        self.settings, self.schema = settings, schema
        self.topics = Topics(settings.topic_prefix)
        self.codec = make_codec(settings.schema_registry_url)
        self.conn = self._connect()
        self.consumer = Consumer(consumer_config(settings, group_id or self.topics.logs_projector_group,
                                                 **BATCHED_FETCH))
        self.poison = Producer(producer_config(settings))
        self.purger = LogPurger(settings.log_retention_days)
        self.consumer.subscribe([self.topics.logs], on_assign=self._on_assign)

    def close(self) -> None:
        serve_rebalances(self.consumer)
        self.consumer.close()
        self.poison.flush(10)
        self.conn.close()

    def run(self, stop: threading.Event) -> None:
        """Project until ``stop`` is set; a database failure waits, reconnects and rewinds to the stored offsets."""
        keep_projecting(self.poll_once, self._recover, stop, "logs", MAX_BACKOFF_S)

    def poll_once(self) -> int:
        messages = consume_ready(self.consumer, BATCH_SIZE, POLL_TIMEOUT_S)
        rows: list[tuple[Any, ...]] = []
        offsets: dict[PartitionKey, int] = {}
        chunks: list[tuple[Message, tuple[Any, ...]]] = []
        for message in messages:
            error = message.error()
            if error is not None:
                if error.fatal():
                    raise KafkaException(error)
                continue
            offsets[(str(message.topic()), int(message.partition() or 0))] = int(message.offset() or 0) + 1
            record = decode_or_poison(self.codec, message, self.poison, self.topics)
            if isinstance(record, LogChunk):
                chunks.append((message, chunk_row(record)))
            else:
                self._set_aside(message, record)
        rows = [row for _, row in chunks]
        try:
            write_chunks(self.conn, rows, offsets)
        except BAD_DATA as error:
            log.error("Postgres refused a batch of log chunks (%s): writing them one by one", error)
            self._write_one_by_one(chunks, offsets)
        CHUNKS.inc(len(rows))
        self.purger.maybe_purge(self.conn)
        return len(messages)

    def _write_one_by_one(self, chunks: list[tuple[Message, tuple[Any, ...]]],
                          offsets: dict[PartitionKey, int]) -> None:
        for message, row in chunks:
            try:
                write_chunks(self.conn, [row], {})
            except BAD_DATA as error:
                self._poison(message, f"refused by Postgres: {type(error).__name__}: {error}")
        write_chunks(self.conn, [], offsets)

    def _set_aside(self, message: Message, record: object) -> None:
        if record is None:  # undecodable: decode_or_poison set it aside already
            POISONED.inc()
            return
        self._poison(message, f"{type(record).__name__} is not a LogChunk")

    def _poison(self, message: Message, reason: str) -> None:
        POISONED.inc()
        set_aside(self.poison, self.topics, PoisonMessage(str(message.topic()), int(message.partition() or 0),
                                                          int(message.offset() or 0), message.key(),
                                                          message.value(), reason))

    def _connect(self) -> psycopg.Connection[Any]:
        conn = connect(self.settings.database_url, self.schema)
        ensure_logs_schema(conn, self.schema)
        return conn

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._assign(partitions)

    def _assign(self, partitions: list[TopicPartition]) -> None:
        """Start each partition where Postgres says the projection stands (or at the beginning)."""
        stored = load_offsets(self.conn, [self.topics.logs])
        for tp in partitions:
            tp.offset = stored.get((tp.topic, tp.partition), OFFSET_BEGINNING)
        self.consumer.assign(partitions)

    def _recover(self) -> None:
        """Reconnect if needed and rewind to the stored offsets (a failure is retried by ``keep_projecting``)."""
        if self.conn.closed or self.conn.broken:
            self.conn = self._connect()
        else:
            ensure_logs_schema(self.conn, self.schema)  # a replay may have dropped the schema
        assignment = self.consumer.assignment()
        if assignment:
            self._assign(assignment)


def run_logs_projector(settings: Settings, schema: str = DEFAULT_SCHEMA) -> None:
    """The long-running process: runs until SIGTERM or SIGINT, then closes cleanly."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
    projector = LogsProjector(settings, schema)
    log.info("projecting %s into %s.execution_logs, kept %g days", projector.topics.logs, schema,
             settings.log_retention_days)
    try:
        align_topic_retention(settings.kafka_bootstrap, projector.topics.logs, settings.log_retention_days,
                              security=client_security(settings))
    except KafkaException as error:  # the topic is kept as it is; the table's purge does not depend on it
        log.warning("cannot align the retention of %s: %s", projector.topics.logs, error)
    try:
        projector.run(stop)
    finally:
        projector.close()

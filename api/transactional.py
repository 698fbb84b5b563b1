"""All-or-nothing sends: many commands in one Kafka transaction.

The state processor reads the commands topic with ``isolation.level=read_committed``, so it sees
a batch only once its transaction commits, and never an aborted one. One transaction at a time
per API process (a producer has one open transaction); its blocking calls run in a thread.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Sequence

from confluent_kafka import KafkaError, KafkaException, Producer

from jobstream.config import Settings
from jobstream.infra.topics import Topics
from jobstream.schemas import Codec, Command, make_codec
from jobstream.streams.kafka_io import partition_for, produce, producer_config

log = logging.getLogger(__name__)


class TransactionFailed(Exception):
    """The transaction was aborted (or its producer lost): none of its commands is visible."""


class TransactionalPublisher:
    def __init__(self, settings: Settings, *, codec: Codec | None = None, transactional_id: str | None = None,
                 timeout_s: float = 30.0) -> None:
        self.topics = Topics(settings.topic_prefix)
        self.partitions = settings.partitions
        self.codec = codec or make_codec(settings.schema_registry_url)
        self.timeout_s = timeout_s
        # Unique per process: two API processes sharing an id would fence each other off.
        self._config = producer_config(settings, **{
            "transactional.id": transactional_id or f"{settings.topic_prefix}.api.{uuid.uuid4().hex}",
            # an API process that dies mid-batch blocks read_committed readers of those partitions
            # until the broker aborts its transaction: keep that short
            "transaction.timeout.ms": int(timeout_s * 1000),
        })
        self._producer: Producer | None = None
        self._lock = asyncio.Lock()

    async def send_all(self, commands: Sequence[Command]) -> None:
        """Commit all of ``commands`` in one transaction, or raise TransactionFailed (none sent)."""
        async with self._lock:
            await asyncio.to_thread(self._send_all, commands)

    def _send_all(self, commands: Sequence[Command]) -> None:
        # Encoded first: a value Avro refuses must fail the request before a transaction is open.
        messages = [(c.envelope.job_id, self.codec.encode(c, self.topics.commands)) for c in commands]
        producer = self._ready_producer()
        try:
            producer.begin_transaction()
        except KafkaException as error:
            self._producer = None  # a producer that cannot begin is of no more use
            raise TransactionFailed(str(error)) from error
        try:
            for key, value in messages:
                produce(producer, self.topics.commands, value, key.encode(), partition_for(key, self.partitions))
            producer.commit_transaction(self.timeout_s)
        except Exception as error:  # noqa: BLE001 - whatever failed, the transaction must not stay open
            self._abort(producer, error)
            raise TransactionFailed(str(error)) from error

    def _ready_producer(self) -> Producer:
        """The producer, with init_transactions done once (it also fences a predecessor's id)."""
        if self._producer is None:
            producer = Producer(self._config)
            try:
                producer.init_transactions(self.timeout_s)
            except KafkaException as error:
                raise TransactionFailed(f"cannot start transactions: {error}") from error
            self._producer = producer
        return self._producer

    def _abort(self, producer: Producer, error: Exception) -> None:
        kafka_error = error.args[0] if isinstance(error, KafkaException) and error.args else None
        if isinstance(kafka_error, KafkaError) and kafka_error.fatal():
            log.error("transactional producer failed fatally, replacing it: %s", kafka_error)
            self._producer = None
            return
        try:
            producer.abort_transaction(self.timeout_s)
        except KafkaException as abort_error:  # the next batch starts with a fresh producer
            log.error("abort failed, replacing the transactional producer: %s", abort_error)
            self._producer = None

    def flush(self, timeout_s: float = 5.0) -> None:
        if self._producer is not None:
            self._producer.flush(timeout_s)

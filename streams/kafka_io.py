"""The thin Kafka edge shared by every process: producers, command sending, decode-or-poison.

Producers are durable (acks=all, idempotent). A message that cannot be decoded is never dropped
silently: it is published to the poison topic with its origin, and the caller moves on.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition
from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_fixed

from jobstream.config import Settings
from jobstream.infra.topics import Topics, TopicSpec, ensure_topics
from jobstream.schemas import Codec, Command, CommandEnvelope, MessageDecodeError, PoisonMessage, Record, make_codec
from jobstream.streams.kafka_security import client_security
from jobstream.streams.murmur2 import murmur2

log = logging.getLogger(__name__)
Headers = list[tuple[str, str | bytes | None]]
DRAIN_S = 0.01  # how long a producer whose local queue is full serves deliveries before trying again


def partition_for(key: str, partitions: int) -> int:
    """The partition Java clients, faust and our confluent producers (murmur2) pick for ``key``."""
    return (murmur2(key.encode()) & 0x7FFFFFFF) % partitions


def ensure_all_topics(settings: Settings) -> None:
    """Every topic a process uses exists before it starts: faust's own auto-creation races its
    metadata refresh on a fresh cluster and crashes the agent ("0 partitions")."""
    ensure_specs(settings, Topics(settings.topic_prefix).specs(settings.partitions, settings.log_retention_days))


def ensure_specs(settings: Settings, specs: list[TopicSpec]) -> list[str]:
    """The missing topics of ``specs``, created with the cluster's replication factor as this
    process authenticates; returns the names created."""
    return ensure_topics(settings.kafka_bootstrap, specs, replication=settings.replication_factor,
                         security=client_security(settings))


# librdkafka's lines (errors only: log_level 3) go through Python's logging, served by each client's
# poll, instead of straight to stderr: so they have the process's format, and repeats are left out.
LIBRDKAFKA_LOG = logging.getLogger("librdkafka")


def admin_config(bootstrap: str, **overrides: Any) -> dict[str, Any]:
    """An AdminClient's: errors only, through Python's logging (its info lines, such as the
    purge of its background queue at destruction, broke a process's JSON logs). Callers add
    ``**client_security(settings)`` to the overrides."""
    return {"bootstrap.servers": bootstrap, "log_level": 3, "logger": LIBRDKAFKA_LOG, **overrides}


def producer_config(settings: Settings, **overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "bootstrap.servers": settings.kafka_bootstrap,
        **client_security(settings),
        "acks": "all",
        "enable.idempotence": True,
        "linger.ms": 1,
        "compression.type": "lz4",
        # Java's partitioner (murmur2), as faust and other services use: one key, one partition.
        "partitioner": "murmur2_random",
        "log_level": 3,
        "logger": LIBRDKAFKA_LOG,
    }
    config.update(overrides)
    return config


# For readers off the latency path (the logs projector, the worker monitor, watchers): the broker
# holds their fetch until 64 KiB are there or fetch.wait.max.ms (100 ms) passed. A fetch answered at
# the first byte costs the broker (and the reader) a pass over every partition of the fetch for a
# record or two: batched, the whole stack spent 3.46 ms of CPU per job instead of 3.94
# (`jobstream bench e2e`, docs/architecture.md).
BATCHED_FETCH: dict[str, Any] = {"fetch.min.bytes": 65536}


def consumer_config(settings: Settings, group_id: str, **overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "bootstrap.servers": settings.kafka_bootstrap,
        **client_security(settings),
        "group.id": group_id,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "isolation.level": "read_committed",
        # How long the broker holds an empty fetch. Data that arrives meanwhile (or a transaction
        # marker that makes it readable) answers the fetch at once, so this costs no latency;
        # at 5 ms a dozen idle consumers sent the broker thousands of empty fetches a second.
        "fetch.wait.max.ms": 100,
        "log_level": 3,
        "logger": LIBRDKAFKA_LOG,
    }
    config.update(overrides)
    return config


def consume_ready(consumer: Consumer, max_messages: int, timeout_s: float) -> list[Message]:
    """Wait at most ``timeout_s`` for the first message, then take what is already there.

    ``Consumer.consume(n, timeout)`` waits out the whole timeout unless ``n`` messages arrive,
    which adds the timeout to every hop at low load; this returns as soon as anything arrived."""
    first = consumer.poll(timeout_s)
    if first is None:
        return []
    return [first, *consumer.consume(max_messages - 1, 0)] if max_messages > 1 else [first]


T = TypeVar("T")


def serve_rebalances(consumer: Consumer, max_polls: int = 1000) -> None:
    """Serve the rebalance callbacks already queued, before ``close()``. A callback that ``close()``
    itself serves for an assignment queued earlier calls ``assign()`` (the client calls it too when
    the callback does not), and once the group has terminated that call waits for a reply that never
    comes (librdkafka #4884: a projector's close hung in a test). The consumer stays in its group
    (a static member must not leave it: its restart would move its partitions). Messages polled here
    are dropped unprocessed: none of our consumers commits an offset but explicitly."""
    for _ in range(max_polls):  # a bound, not a timeout: each poll returns at once
        if consumer.poll(0) is None:
            return


def while_leaders_settle(call: Callable[[], T], deadline_s: float = 60.0) -> T:
    """``call()``, retried every 0.5 s while a new topic's partition leaders are still being elected
    (a busy broker answers NOT_LEADER_FOR_PARTITION for a while after the topic is created)."""
    retrying = Retrying(retry=retry_if_exception_type(KafkaException), stop=stop_after_delay(deadline_s),
                        wait=wait_fixed(0.5), reraise=True)
    return retrying(call)


def end_offset(consumer: Consumer, partition: TopicPartition, deadline_s: float = 60.0) -> int:
    """A partition's end offset."""
    return while_leaders_settle(lambda: int(consumer.get_watermark_offsets(partition, timeout=5)[1]), deadline_s)


def end_offsets(settings: Settings, topic: str) -> dict[int, int]:
    """Each partition's end offset now: what is below it was written before this moment."""
    consumer = Consumer(consumer_config(settings, f"end-offsets-{uuid.uuid4().hex[:8]}"))
    try:
        partitions = consumer.list_topics(topic, timeout=30).topics[topic].partitions
        return {p: end_offset(consumer, TopicPartition(topic, p)) for p in partitions}
    finally:
        consumer.close()


def produce(producer: Producer, topic: str, value: bytes | None, key: bytes | None, partition: int = -1,
            headers: Headers | None = None, on_delivery: Any = None) -> None:
    """Produce one message (``partition`` -1: the partitioner's choice). While librdkafka's local
    queue is full (BufferError) serve deliveries and try again: backpressure, never a drop."""
    while True:
        try:
            if headers is None and on_delivery is None:  # the common case, without a keyword dict
                producer.produce(topic, value, key, partition)
            else:
                producer.produce(topic, value, key, partition, on_delivery=on_delivery, headers=headers)
            return
        except BufferError:
            producer.poll(DRAIN_S)


def new_command_id() -> str:
    return uuid.uuid4().hex


def command_envelope(cls: type[Command], job_id: str, actor: str, *, command_id: str | None = None,
                     correlation_id: str | None = None, now: datetime | None = None,
                     namespace: str | None = None) -> CommandEnvelope:
    return CommandEnvelope(command_id=command_id or new_command_id(), job_id=job_id, type=cls.short_name(),
                           issued_at=now or datetime.now(UTC), actor=actor, correlation_id=correlation_id,
                           namespace=namespace)


class Publisher:
    """Encodes records and produces them keyed by their aggregate id (job_id or worker_id)."""

    def __init__(self, settings: Settings, codec: Codec | None = None, **producer_overrides: Any) -> None:
        self.topics = Topics(settings.topic_prefix)
        self.codec = codec or make_codec(settings.schema_registry_url)
        self.producer = Producer(producer_config(settings, **producer_overrides))
        self.signer: Callable[[bytes], Headers] | None = None  # a worker's: its reports' MAC (core/report_keys.py)

    def publish(self, topic: str, key: str, record: Record, on_delivery: Any = None) -> None:
        produce(self.producer, topic, self.codec.encode(record, topic), key.encode(), on_delivery=on_delivery)

    def send_command(self, command: Command, on_delivery: Any = None) -> None:
        topic = self.topics.commands
        value = self.codec.encode(command, topic)
        produce(self.producer, topic, value, command.envelope.job_id.encode(), headers=self.command_headers(value),
                on_delivery=on_delivery)

    def command_headers(self, value: bytes) -> Headers | None:
        """The headers a command of these bytes goes with: its signature, when this process signs."""
        return self.signer(value) if self.signer is not None else None

    async def send_command_acked(self, command: Command) -> Message:
        """Produce a command and wait for the broker's acknowledgement (acks=all)."""
        return await self.publish_acked(self.topics.commands, command.envelope.job_id, command)

    async def publish_acked(self, topic: str, key: str, record: Record) -> Message:
        """Produce a record and wait for the broker's acknowledgement (acks=all)."""
        loop = asyncio.get_running_loop()
        acked: asyncio.Future[Message] = loop.create_future()

        def delivered(error: KafkaError | None, message: Message) -> None:
            if error is not None:
                failure = RuntimeError(f"{record.short_name()} not delivered: {error}")
                loop.call_soon_threadsafe(_set_exception, acked, failure)
            else:
                loop.call_soon_threadsafe(_set_result, acked, message)

        self.publish(topic, key, record, delivered)
        self.producer.poll(0)
        return await acked

    def poll(self, timeout_s: float = 0.0) -> int:
        return self.producer.poll(timeout_s)

    def flush(self, timeout_s: float = 30.0) -> int:
        return self.producer.flush(timeout_s)


def _set_result(future: asyncio.Future[Message], message: Message) -> None:
    if not future.done():
        future.set_result(message)


def _set_exception(future: asyncio.Future[Message], error: Exception) -> None:
    if not future.done():
        future.set_exception(error)


def decode_or_poison(codec: Codec, message: Message, producer: Producer, topics: Topics) -> Record | None:
    """The decoded record, or None after setting the message aside on the poison topic."""
    value = message.value()
    try:
        if value is None:
            raise MessageDecodeError(message.topic(), message.partition(), message.offset(), "empty value")
        return codec.decode(value, topic=message.topic(), partition=message.partition(), offset=message.offset())
    except MessageDecodeError as error:
        set_aside(producer, topics, PoisonMessage.from_error(error, message.key(), value))
        return None


def set_aside(producer: Producer, topics: Topics, poison: PoisonMessage) -> None:
    """Publish a poison message with its origin in headers, and log it loudly."""
    produce(producer, topics.poison, poison.value, poison.key,
            headers=poison_headers(poison.topic, poison.partition, poison.offset, poison.reason))
    producer.flush(10)


def poison_headers(topic: str, partition: int, offset: int, reason: str) -> Headers:
    """A poison message's origin and the reason it was set aside, logged once as it is."""
    log.error("poison message set aside: topic=%s partition=%d offset=%d: %s", topic, partition, offset, reason)
    headers = {"origin.topic": topic, "origin.partition": str(partition), "origin.offset": str(offset),
               "reason": reason}
    return [(k, v.encode()) for k, v in headers.items()]


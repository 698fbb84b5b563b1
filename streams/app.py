"""The faust application factory: one place that turns Settings into a configured faust.App."""

from __future__ import annotations

import asyncio
from typing import Any

import faust
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread
from faust.transport.drivers.aiokafka import Consumer as AIOKafkaConsumer
from faust.transport.drivers.aiokafka import Transport as AIOKafkaTransport

from jobstream.config import Settings
from jobstream.schemas import Codec, MessageDecodeError, Record
from jobstream.streams import metrics
from jobstream.streams.kafka_io import ensure_all_topics, partition_for, poison_headers  # noqa: F401 - re-exported
from jobstream.streams.kafka_security import faust_credentials


class _ReadCommittedThread(AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        # faust offers read_committed only with exactly_once; the fetcher is built at start()
        # from this attribute, so setting it here is enough.
        consumer._isolation_level = "read_committed"
        return consumer


class _ReadCommittedConsumer(AIOKafkaConsumer):
    def _new_consumer_thread(self) -> AIOKafkaConsumerThread:
        return _ReadCommittedThread(self, loop=self.loop, beacon=self.beacon)


class ReadCommittedTransport(AIOKafkaTransport):
    """faust's aiokafka transport, reading only committed messages: a batch of commands the API
    sends in one Kafka transaction is seen whole once committed, and never if aborted."""

    Consumer = _ReadCommittedConsumer


def make_app(settings: Settings, app_id: str, *, instance_id: str | None = None,
             commit_interval_s: float = 0.2) -> faust.App:
    """A faust App for one processor. ``instance_id`` enables static group membership, so that a
    restarted process takes its partitions back at once instead of after a session timeout."""
    datadir = settings.state_dir / "faust" / app_id  # not the working directory
    datadir.mkdir(parents=True, exist_ok=True)
    app = faust.App(
        app_id,
        broker=f"kafka://{settings.kafka_bootstrap}",
        broker_credentials=faust_credentials(settings),
        store="memory://",
        datadir=str(datadir),
        processing_guarantee="at_least_once",  # duplicates are made harmless by seq checks
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,
        producer_acks=-1,
        producer_linger_ms=1,
        broker_commit_interval=commit_interval_s,
        consumer_auto_offset_reset="earliest",
        consumer_group_instance_id=instance_id,
        broker_session_timeout=10.0,
        broker_heartbeat_interval=1.0,
        stream_recovery_delay=0.0,
        # faust's default (wait for streams to drain on rebalance) stalls consumption after our
        # recovery callback in faust 0.15 (the kill -9 test shows it). Without it, a rebalance
        # between two live instances can let the old owner finish a decision after revocation;
        # catch-up covers what reached the topic before the new owner read it.
        stream_wait_empty=False,
        table_standby_replicas=0,
        web_enabled=False,
        autodiscover=False,
        topic_disable_leader=True,  # no leader election needed; one topic fewer to create
    )
    app.transport = ReadCommittedTransport(app.conf.broker_consumer, app)
    return app


async def produce(app: faust.App, topic: str, key: bytes, value: bytes, partition: int) -> asyncio.Future[Any]:
    """Hand one message to the app's producer; returns the delivery future. Going to the
    producer directly skips faust's Topic/Channel layers, a third of the cost per message."""
    return await app.producer.send(topic, key, value, partition, None, None)  # type: ignore[return-value]


async def decoded_or_poison(app: faust.App, codec: Codec, message: Any, poison_topic: str,
                            process: str) -> Record | None:
    """The record a faust message carries, or None after setting the message aside on the poison
    topic with its origin, as every consumer does: never dropped, never a crash loop."""
    try:
        return codec.decode(message.value or b"", topic=message.topic, partition=message.partition,
                            offset=message.offset)
    except MessageDecodeError as error:
        headers = poison_headers(message.topic, message.partition, message.offset, str(error))
        await app.producer.send(poison_topic, message.key, message.value, 0, None, headers)
        metrics.POISON.labels(process).inc()
        return None


def raw_topic(app: faust.App, name: str, partitions: int) -> faust.TopicT:
    """A topic of bytes keys and values: the Avro codec at the edge does the (de)serialising."""
    return app.topic(name, key_type=bytes, value_type=bytes, key_serializer="raw",
                     value_serializer="raw", partitions=partitions, internal=False)

"""The broker is real: transactions commit and abort as Kafka defines them."""

from __future__ import annotations

import time

from confluent_kafka import Consumer, KafkaError, Producer

from jobstream.config import Settings
from jobstream.infra.topics import TopicSpec, ensure_topics


def _consume_all(bootstrap: str, topic: str, group: str, expected: int, timeout_s: float = 20.0) -> list[bytes]:
    """Read committed messages until ``expected`` have arrived and the partition end is reached."""
    consumer = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "auto.offset.reset": "earliest",
        "isolation.level": "read_committed",
        "enable.partition.eof": True,
    })
    consumer.subscribe([topic])
    values: list[bytes] = []
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            message = consumer.poll(0.2)
            if message is None:
                continue
            error = message.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF and len(values) >= expected:
                    return values
                continue
            value = message.value()
            assert value is not None
            values.append(value)
    finally:
        consumer.close()
    return values


def test_read_committed_sees_committed_and_not_aborted(test_settings: Settings, unique_name: str) -> None:
    # Given a one-partition topic and a transactional producer
    topic = f"{test_settings.topic_prefix}.txn"
    ensure_topics(test_settings.kafka_bootstrap, [TopicSpec(topic, 1)])
    producer = Producer({
        "bootstrap.servers": test_settings.kafka_bootstrap,
        "transactional.id": f"{unique_name}-txn",
        "acks": "all",
    })
    producer.init_transactions(10)

    # When one transaction aborts and a later one commits
    producer.begin_transaction()
    producer.produce(topic, key=b"k", value=b"aborted")
    producer.flush()
    producer.abort_transaction(10)
    producer.begin_transaction()
    producer.produce(topic, key=b"k", value=b"committed-1")
    producer.produce(topic, key=b"k", value=b"committed-2")
    producer.commit_transaction(10)

    # Then a read_committed consumer sees exactly the committed messages
    assert _consume_all(test_settings.kafka_bootstrap, topic, unique_name, expected=2) == [
        b"committed-1", b"committed-2"]


def test_ensure_topics_sets_partitions_and_retention(test_settings: Settings) -> None:
    from confluent_kafka.admin import AdminClient, ConfigResource

    from jobstream.infra.topics import Topics

    topics = Topics(test_settings.topic_prefix)
    created = ensure_topics(test_settings.kafka_bootstrap, topics.specs(test_settings.partitions))
    assert set(created) == {spec.name for spec in topics.specs(3)}
    assert ensure_topics(test_settings.kafka_bootstrap, topics.specs(3)) == []  # idempotent

    admin = AdminClient({"bootstrap.servers": test_settings.kafka_bootstrap})
    metadata = admin.list_topics(timeout=10).topics
    assert len(metadata[topics.events].partitions) == 3
    resource = ConfigResource(ConfigResource.Type.TOPIC, topics.events)
    config = admin.describe_configs([resource])[resource].result()
    assert config["retention.ms"].value == "-1"  # the event log is kept forever
    assert config["cleanup.policy"].value == "delete"
    dead = ConfigResource(ConfigResource.Type.TOPIC, topics.dead_letters)
    assert admin.describe_configs([dead])[dead].result()["cleanup.policy"].value == "compact"


def test_produce_waits_for_room_when_the_local_queue_is_full(test_settings: Settings, unique_name: str) -> None:
    # Given a producer whose local queue holds two messages
    from jobstream.streams.kafka_io import produce

    topic = f"{test_settings.topic_prefix}.backpressure"
    ensure_topics(test_settings.kafka_bootstrap, [TopicSpec(topic, 1)])
    producer = Producer({"bootstrap.servers": test_settings.kafka_bootstrap, "acks": "all",
                         "queue.buffering.max.messages": 2})

    # When far more messages are produced than the queue holds
    values = [f"m{i}".encode() for i in range(50)]
    for value in values:
        produce(producer, topic, value, b"k")
    assert producer.flush(30) == 0

    # Then none is lost and their order is kept
    assert _consume_all(test_settings.kafka_bootstrap, topic, unique_name, expected=len(values)) == values

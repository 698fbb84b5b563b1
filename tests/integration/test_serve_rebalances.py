"""Closing a consumer whose assignment is still queued: ``serve_rebalances`` serves the rebalance
callbacks before ``close()``, which would otherwise serve them itself, and an ``assign()`` made
inside ``close()`` can wait for ever (librdkafka #4884; a projector's close hung in a test)."""

from __future__ import annotations

import threading

from confluent_kafka import Consumer, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient

from jobstream.config import Settings
from jobstream.infra.topics import TopicSpec
from jobstream.streams.kafka_io import admin_config, consumer_config, ensure_specs, serve_rebalances
from tests.integration.harness import poll


def assigned_by_the_broker(admin: AdminClient, group: str) -> bool:
    try:
        description = admin.describe_consumer_groups([group])[group].result()
    except KafkaException:  # the group's coordinator is not known yet
        return False
    return any(member.assignment.topic_partitions for member in description.members)


def test_an_assignment_queued_at_close_is_served_before_close(test_settings: Settings, unique_name: str) -> None:
    topic = f"{test_settings.topic_prefix}.leave"
    ensure_specs(test_settings, [TopicSpec(topic, 3)])
    served: list[str] = []

    def on_assign(consumer: Consumer, partitions: list[TopicPartition]) -> None:
        served.append("assign")
        consumer.assign(partitions)

    def on_revoke(consumer: Consumer, _: list[TopicPartition]) -> None:
        served.append("revoke")
        consumer.unassign()

    consumer = Consumer(consumer_config(test_settings, unique_name))
    consumer.subscribe([topic], on_assign=on_assign, on_revoke=on_revoke)
    admin = AdminClient(admin_config(test_settings.kafka_bootstrap))
    poll(lambda: assigned_by_the_broker(admin, unique_name), 60, "the group's assignment")
    # The client queues the assignment once the broker's answer reaches it: serve until it has
    poll(lambda: serve_rebalances(consumer) or served, 60, "the assignment served before close()")
    assert served == ["assign"], served  # served with the group alive, not left for close()
    assert assigned_by_the_broker(admin, unique_name)  # still a member: a static one must not leave
    closed = threading.Event()

    def close() -> None:
        consumer.close()
        closed.set()

    threading.Thread(target=close, daemon=True).start()
    assert closed.wait(60), "close() did not return"

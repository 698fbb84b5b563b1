"""The fetch guard on a real broker. A consumer whose partition is paused stops fetching exactly as
a stalled one does (no error, no end of partition), so pausing stands in for librdkafka's stall:
the guard must name the partition, and a consumer made at ``resume_at()`` must read what waited.
A consumer reading along, or one at the stable end of an open transaction, is never stalled."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from jobstream.clock import utcnow
from jobstream.config import Settings
from jobstream.infra.topics import Topics, TopicSpec, ensure_topics
from jobstream.schemas import Assignment, JobSpec, ShellTask
from jobstream.streams.fetch_guard import FetchGuard, GuardedReader
from jobstream.streams.kafka_io import Publisher, consumer_config, producer_config
from jobstream.worker.process import AssignmentFeed, Inbound

pytestmark = pytest.mark.integration
DEADLINE_S = 60.0  # a busy 2-core machine


@pytest.fixture
def topic(test_settings: Settings, unique_name: str) -> str:
    name = f"{test_settings.topic_prefix}.guard-{unique_name}"
    ensure_topics(test_settings.kafka_bootstrap, [TopicSpec(name, 1)])
    return name


@pytest.fixture
def consumer(test_settings: Settings, unique_name: str) -> Iterator[Consumer]:
    consumer = Consumer(consumer_config(test_settings, f"guard-{unique_name}"))
    yield consumer
    consumer.close()


def send(settings: Settings, topic: str, values: list[bytes]) -> None:
    producer = Producer(producer_config(settings))
    for value in values:
        producer.produce(topic, value, b"k", 0)
    assert producer.flush(30) == 0


def read(consumer: Consumer, count: int, guard: FetchGuard | None = None) -> list[bytes]:
    """Poll until ``count`` records came (asking the guard as the feed does)."""
    got: list[bytes] = []
    deadline = time.monotonic() + DEADLINE_S
    while len(got) < count and time.monotonic() < deadline:
        message = consumer.poll(0.1)
        if message is not None and message.error() is None:
            got.append(message.value())  # type: ignore[arg-type]
        if guard is not None:
            assert guard.stalled() == []
    return got


def stalled_within(guard: FetchGuard, consumer: Consumer) -> list[tuple[str, int]]:
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        consumer.poll(0.1)
        if found := guard.stalled():
            return found
    return []


def test_a_partition_that_stops_fetching_is_named_and_a_new_consumer_reads_on(
        test_settings: Settings, topic: str, consumer: Consumer, unique_name: str) -> None:
    start = [TopicPartition(topic, 0, 0)]
    consumer.assign(start)
    guard = FetchGuard(consumer, start, after_s=1.0, every_s=0.2)
    send(test_settings, topic, [b"one"])
    assert read(consumer, 1, guard) == [b"one"]  # reading along: never stalled

    consumer.pause(start)
    send(test_settings, topic, [b"two", b"three"])
    assert stalled_within(guard, consumer) == [(topic, 0)]
    assert [(tp.partition, tp.offset) for tp in guard.resume_at()] == [(0, 1)]

    fresh = Consumer(consumer_config(test_settings, f"guard-{unique_name}-2"))
    try:
        fresh.assign(guard.resume_at())
        assert read(fresh, 2) == [b"two", b"three"]
    finally:
        fresh.close()


def test_an_open_transaction_beyond_the_position_is_not_a_stall(test_settings: Settings, topic: str,
                                                                 consumer: Consumer, unique_name: str) -> None:
    producer = Producer({**producer_config(test_settings), "transactional.id": f"guard-{unique_name}"})
    producer.init_transactions(30)
    producer.begin_transaction()
    producer.produce(topic, b"not yet", b"k", 0)
    assert producer.flush(30) == 0
    try:
        start = [TopicPartition(topic, 0, 0)]
        consumer.assign(start)
        guard = FetchGuard(consumer, start, after_s=1.0, every_s=0.2)
        checks_until = time.monotonic() + 3.0  # several checks, each past ``after_s``
        while time.monotonic() < checks_until:
            consumer.poll(0.1)
            assert guard.stalled() == []
    finally:
        producer.abort_transaction(30)


class StallingReader(GuardedReader):
    """Its first consumer fetches nothing (paused), as a stalled one."""

    def assign(self, start: list[TopicPartition]) -> None:
        super().assign(start)
        if self.reopened == 0:
            self.consumer.pause(start)


def test_a_worker_feed_that_stops_fetching_still_delivers_its_assignment(test_settings: Settings,
                                                                         topics_ready: Topics) -> None:
    worker_id = "guarded-worker"
    publisher = Publisher(test_settings)
    loop = asyncio.new_event_loop()
    inbox: asyncio.Queue[Inbound] = asyncio.Queue()
    feed = AssignmentFeed(test_settings, worker_id, publisher, loop, inbox)
    feed.reader.close()
    feed.reader = StallingReader(feed.reader.make, feed.reader.name, after_s=1.0)
    feed.start()
    try:
        assert feed.ready.wait(DEADLINE_S)
        assignment = Assignment(execution_id="job-1.1", job_id="job-1", attempt=1, worker_id=worker_id,
                                spec=JobSpec(name="guarded", task=ShellTask(argv=["true"])), assigned_at=utcnow())
        publisher.publish(topics_ready.assignments, worker_id, assignment)
        publisher.flush(30)
        received = loop.run_until_complete(asyncio.wait_for(inbox.get(), DEADLINE_S))
        assert isinstance(received, Assignment) and received.execution_id == "job-1.1"
        assert feed.reader.reopened == 1
    finally:
        feed.stop()
        feed.join(10)
        loop.close()

"""A toy processor and codec for tests that run the engine in-process on topics of their own."""

from __future__ import annotations

from collections.abc import MutableMapping

from confluent_kafka import Message, Producer

from jobstream.config import Settings
from jobstream.streams.engine.processor import Batch
from jobstream.streams.kafka_io import producer_config

DEADLINE_S = 60.0  # a busy 2-core machine: group join and the first fetch take seconds


class Utf8:
    def encode(self, value: str) -> bytes:
        return value.encode()

    def decode(self, data: bytes) -> str:
        return data.decode()


class WritesOnlyWhenAsked:
    """Sends a message on when its value says ``write``; anything else it counts and ignores."""

    def __init__(self, output: str) -> None:
        self.output = output
        self.seen = 0  # read by the test's thread
        self.punctuations = 0

    def handle(self, message: Message, batch: Batch[str]) -> None:
        self.seen += 1
        if message.value() == b"write":
            batch.send(self.output, message.key(), message.value(), 0)

    def handled(self, batch: Batch[str]) -> None: ...

    def punctuate(self, batch: Batch[str], owned: frozenset[int]) -> None:
        self.punctuations += 1

    def committed(self) -> None: ...

    def aborted(self) -> None: ...

    def assigned(self, partition: int, table: MutableMapping[str, str]) -> None: ...

    def revoked(self, partition: int) -> None: ...


def send_values(settings: Settings, topic: str, values: list[bytes]) -> None:
    producer = Producer(producer_config(settings))
    for value in values:
        producer.produce(topic, value, b"k", 0)
    assert producer.flush(30) == 0

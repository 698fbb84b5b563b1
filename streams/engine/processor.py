"""What an application gives the engine (``Processor``) and what it gets per transaction (``Batch``)."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Generic, Protocol, TypeVar

from confluent_kafka import Message, Producer

from jobstream.streams.engine.store import Overlay, Serde
from jobstream.streams.kafka_io import Headers, poison_headers, produce

V = TypeVar("V")


class Batch(Generic[V]):
    """One transaction seen from the application: state reads and puts (staged in the overlay)
    and outputs, handed to the transactional producer at once."""

    def __init__(self, producer: Producer, overlay: Overlay[V]) -> None:
        self._producer = producer
        self.overlay = overlay
        self.get = overlay.get
        self.put = overlay.put
        self.sent = 0

    def send(self, topic: str, key: bytes | None, value: bytes | None, partition: int,
             headers: Headers | None = None) -> None:
        produce(self._producer, topic, value, key, partition, headers)
        self.sent += 1

    def set_aside(self, message: Message, reason: str, poison_topic: str) -> None:
        """An input that cannot be handled goes to the poison topic, with its origin, in this
        transaction: never dropped, and never a crash loop."""
        headers = poison_headers(message.topic(), message.partition(), message.offset(), reason)  # type: ignore[arg-type]
        self.send(poison_topic, message.key(), message.value(), 0, headers)  # type: ignore[arg-type]

    def write_changelog(self, topic: str, serde: Serde[V]) -> None:
        """One record per key the transaction changed: its last value, or a tombstone."""
        encode = serde.encode
        for partition, key, value in self.overlay.changes():
            self.send(topic, key.encode(), None if value is None else encode(value), partition)


class Processor(Protocol[V]):
    """An application on the engine. Every call but ``assigned``/``revoked`` runs inside a
    transaction; what it buffers for after the commit (metrics, say) it publishes in
    ``committed`` and forgets in ``aborted``."""

    def handle(self, message: Message, batch: Batch[V]) -> None:
        """One input message: read and put state, send outputs."""
        ...

    def handled(self, batch: Batch[V]) -> None:
        """After a batch's input messages, before its changelog: work done once per batch."""
        ...

    def punctuate(self, batch: Batch[V], owned: frozenset[int]) -> None:
        """Periodic work (every ``punctuate_every_s``), in the transaction of a batch."""
        ...

    def committed(self) -> None: ...

    def aborted(self) -> None: ...

    def assigned(self, partition: int, table: MutableMapping[str, V]) -> None:
        """A partition's store is restored (the application may fill an empty one); its input follows."""
        ...

    def revoked(self, partition: int) -> None: ...

"""Store values that are Avro records of our schemas, on a changelog: the codec's wire format (the
writer schema's fingerprint, or a registry id, before each body), so a value written with an
older version of the record's schema is read through schema resolution, and the compatibility
guard that protects events protects stored state too."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from confluent_kafka import Message

from jobstream.schemas import Codec, MessageDecodeError, Record
from jobstream.streams.engine import Batch

R = TypeVar("R", bound=Record)


class RecordSerde(Generic[R]):
    def __init__(self, codec: Codec, record_class: type[R], topic: str) -> None:
        self.codec, self.record_class, self.topic = codec, record_class, topic

    def encode(self, value: R) -> bytes:
        return self.codec.encode(value, self.topic)

    def decode(self, data: bytes) -> R:
        record = self.codec.decode(data, topic=self.topic, partition=-1, offset=-1)
        if not isinstance(record, self.record_class):
            raise ValueError(f"{self.topic} holds a {type(record).__name__}, not a {self.record_class.__name__}")
        return record


def decode_input(codec: Codec, message: Message, batch: Batch[Any], poison_topic: str) -> Record | None:
    """An engine processor's input record, or None once it is set aside as poison in the batch."""
    try:
        return codec.decode(message.value() or b"", topic=message.topic(),  # type: ignore[arg-type]
                            partition=message.partition(), offset=message.offset())  # type: ignore[arg-type]
    except MessageDecodeError as error:
        batch.set_aside(message, error.reason, poison_topic)
        return None

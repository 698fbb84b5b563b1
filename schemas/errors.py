"""Typed failures of the wire format, and the record edges publish for poison messages."""

from __future__ import annotations

from dataclasses import dataclass


class MessageDecodeError(Exception):
    """A Kafka message could not be decoded; never swallowed, always names where it came from."""

    def __init__(self, topic: str, partition: int, offset: int, reason: str) -> None:
        super().__init__(f"cannot decode message at topic={topic} partition={partition} offset={offset}: {reason}")
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.reason = reason

    def __reduce__(self) -> tuple[type[MessageDecodeError], tuple[str, int, int, str]]:
        # Custom __init__ signature: keep the exception picklable (multiprocessing, logging handlers).
        return (type(self), (self.topic, self.partition, self.offset, self.reason))


class SchemaRegistryError(Exception):
    """The schema registry could not be reached or refused a request (transient, not poison)."""


@dataclass(frozen=True, slots=True)
class PoisonMessage:
    """A message that cannot be decoded, as published to the poison/dead-letter topic."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    reason: str

    @classmethod
    def from_error(cls, error: MessageDecodeError, key: bytes | None, value: bytes | None) -> PoisonMessage:
        """Build from the decode error raised for this key/value."""
        return cls(error.topic, error.partition, error.offset, key, value, error.reason)

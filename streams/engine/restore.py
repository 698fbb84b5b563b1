"""Reading a changelog partition into a store: every committed record, from the start to the end."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import TypeVar

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

from jobstream.streams.engine.store import Serde

log = logging.getLogger(__name__)
V = TypeVar("V")


def restore(consumer: Consumer, topic: str, partitions: Iterable[int], serde: Serde[V], timeout_s: float,
            beat: Callable[[], None] = lambda: None) -> dict[int, dict[str, V]]:
    """The latest value per key of each partition. read_committed, so what an aborted (or
    fenced) transaction wrote is never seen; the end is the last stable offset."""
    wanted = sorted(partitions)
    tables: dict[int, dict[str, V]] = {p: {} for p in wanted}
    if not wanted:
        return tables
    started = time.monotonic()
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in wanted])
    try:
        open_ = set(wanted)
        decode = serde.decode
        while open_:
            if time.monotonic() - started > timeout_s:
                raise TimeoutError(f"restoring {topic} partitions {sorted(open_)} took over {timeout_s}s")
            for message in consumer.consume(5000, 0.2):
                error = message.error()
                partition = message.partition()
                if error is not None:
                    if error.code() == KafkaError._PARTITION_EOF:
                        open_.discard(partition)  # type: ignore[arg-type]
                    elif error.fatal():
                        raise RuntimeError(f"restoring {topic}: {error}")
                    continue
                table = tables[partition]  # type: ignore[index]
                key = message.key().decode()  # type: ignore[union-attr]
                value = message.value()
                if value is None:
                    table.pop(key, None)
                else:
                    table[key] = decode(value)
            beat()
    finally:
        consumer.unassign()
    log.info("restored %s partitions %s: %d keys in %.2fs", topic, wanted, sum(map(len, tables.values())),
             time.monotonic() - started)
    return tables

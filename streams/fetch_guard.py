"""Notices an assigned consumer that stopped fetching, so its owner can replace it.

librdkafka can stop fetching a partition of an assigned (not subscribed) consumer after a broker
node restarts (confluentinc/librdkafka#5153): no error, no end-of-partition, only silence while
records wait. A worker whose assignment feed goes silent that way never starts what it is sent.

So every ``CHECK_S`` the guard asks the broker where each partition ends (for a read_committed
consumer, the last stable offset: an open transaction is not mistaken for a stall) and compares
it with the consumer's position. A partition whose end has been beyond an unmoving position for
``STALLED_AFTER_S`` is stalled; the owner then makes a new consumer at ``resume_at()``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, TopicPartition

from jobstream.streams.metrics import READERS_REOPENED

log = logging.getLogger(__name__)
CHECK_S = 2.0
STALLED_AFTER_S = 10.0
ASK_TIMEOUT_S = 2.0

Key = tuple[str, int]


@dataclass(frozen=True, slots=True)
class Waiting:
    """Records have waited beyond ``position`` since ``since`` (monotonic seconds)."""

    position: int
    since: float


def waiting(previous: Waiting | None, position: int, end: int, now: float) -> Waiting | None:
    """None when nothing waits; else since when records have waited with the position unmoved."""
    if position >= end:
        return None
    if previous is not None and previous.position == position:
        return previous
    return Waiting(position, now)


class FetchGuard:
    """Watches one consumer's assigned partitions; ``stalled()`` is cheap between checks."""

    def __init__(self, consumer: Consumer, assigned: list[TopicPartition], *, after_s: float = STALLED_AFTER_S,
                 every_s: float = CHECK_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.consumer, self.after_s, self.every_s, self.clock = consumer, after_s, every_s, clock
        self.start = {(tp.topic, tp.partition): tp.offset for tp in assigned}
        self.waits: dict[Key, Waiting | None] = dict.fromkeys(self.start)
        self.seen: dict[Key, int] = {}  # each partition's position at the last check
        self.checked_at = clock()

    def stalled(self) -> list[Key]:
        """The partitions stalled as of the last check (which this call makes when one is due)."""
        now = self.clock()
        if now - self.checked_at >= self.every_s:
            self.checked_at = now
            self._check(now)
        return [key for key, wait in self.waits.items() if wait is not None and now - wait.since >= self.after_s]

    def resume_at(self) -> list[TopicPartition]:
        """Where a replacement consumer should start: each partition's position."""
        return [TopicPartition(topic, partition, offset) for (topic, partition), offset in self._positions().items()]

    def _check(self, now: float) -> None:
        positions = self._positions()
        for key, position in positions.items():
            moved, self.seen[key] = self.seen.get(key) != position, position
            if moved:  # fetching: not stalled, and no need to ask the broker where it ends
                self.waits[key] = None
                continue
            try:
                low, end = self.consumer.get_watermark_offsets(TopicPartition(*key), timeout=ASK_TIMEOUT_S,
                                                               cached=False)
            except KafkaException as error:  # the broker is away: no evidence either way this round
                log.debug("where %s[%d] ends is unknown: %s", *key, error)
                continue
            if position < 0:  # assigned at a logical offset and not fetched yet
                position = low if position == OFFSET_BEGINNING else end
            self.waits[key] = waiting(self.waits[key], position, end, now)

    def position(self, topic: str, partition: int) -> int:
        """The consumer's position in one partition (where it was assigned until it fetched)."""
        return self._positions()[(topic, partition)]

    def _positions(self) -> dict[Key, int]:
        """The consumer's positions; one not fetched yet is where it was assigned (maybe a logical offset)."""
        found = self.consumer.position([TopicPartition(topic, partition) for topic, partition in self.start])
        return {(tp.topic, tp.partition): tp.offset if tp.offset >= 0 else self.start[(tp.topic, tp.partition)]
                for tp in found}


class GuardedReader:
    """An assigned consumer that replaces itself at its positions once the guard finds it stalled.
    ``make`` builds a consumer (configured, not assigned); ``name`` labels the log and the metric."""

    def __init__(self, make: Callable[[], Consumer], name: str, *, after_s: float = STALLED_AFTER_S) -> None:
        self.make, self.name, self.after_s = make, name, after_s
        self.consumer = make()
        self.guard: FetchGuard | None = None
        self.reopened = 0

    def assign(self, start: list[TopicPartition]) -> None:
        self.consumer.assign(start)
        self.guard = FetchGuard(self.consumer, start, after_s=self.after_s)

    def heal(self) -> None:
        """Call between polls: replaces the consumer when it stopped fetching with records waiting."""
        if self.guard is None or not self.guard.stalled():
            return
        resume_at = self.guard.resume_at()
        log.warning("%s stopped fetching with records waiting; reading on with a new consumer from %s", self.name,
                    ", ".join(f"{tp.topic}[{tp.partition}]@{tp.offset}" for tp in resume_at))
        READERS_REOPENED.labels(self.name).inc()
        self.reopened += 1
        self.consumer.close()
        self.consumer = self.make()
        self.assign(resume_at)

    def position(self, topic: str, partition: int) -> int:
        return self.guard.position(topic, partition) if self.guard is not None else -1

    def close(self) -> None:
        self.consumer.close()

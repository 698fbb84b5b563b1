"""Consumer lag per processor for the overview, read from the broker with the AdminClient: each
processor's consumer group, its committed offsets against the partitions' ends. Asked at most once
every ``ttl_s`` whatever the page views (they share the last answer), and "unknown" when the broker
does not answer in ``timeout_s``: a page view never waits long, never fails for it."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec

from jobstream.streams.kafka_io import admin_config

log = logging.getLogger(__name__)
TTL_S = 5.0
TIMEOUT_S = 2.0


@dataclass(frozen=True)
class GroupLag:
    processor: str
    group: str
    lag: int | None  # messages behind, all partitions; None when not known
    note: str = ""  # why it is not known


Reader = Callable[[dict[str, str]], list[GroupLag]]


class ConsumerLag:
    def __init__(self, bootstrap: str, groups: dict[str, str], *, ttl_s: float = TTL_S, timeout_s: float = TIMEOUT_S,
                 reader: Reader | None = None, clock: Callable[[], float] = time.monotonic,
                 security: dict[str, Any] | None = None) -> None:
        self.security = security or {}  # the client's (streams/kafka_security.py)
        self.bootstrap, self.groups, self.ttl_s, self.timeout_s = bootstrap, groups, ttl_s, timeout_s
        self.reader, self.clock = reader or self._from_broker, clock
        self._admin: AdminClient | None = None
        self._lock = asyncio.Lock()
        self._last: tuple[float, list[GroupLag]] | None = None

    async def lags(self) -> list[GroupLag]:
        """Each processor's lag, at most ``ttl_s`` old; one reader at a time, the others wait for its answer."""
        async with self._lock:
            if self._last is not None and self.clock() - self._last[0] < self.ttl_s:
                return self._last[1]
            try:
                answer = await asyncio.to_thread(self.reader, self.groups)
            except Exception as error:  # noqa: BLE001 - any failure of the broker's reads: unknown, not a 500
                log.info("consumer lag not known: %r", error)
                answer = [GroupLag(name, group, None, "the broker did not answer") for name, group in
                          self.groups.items()]
            self._last = (self.clock(), answer)
            return answer

    def _from_broker(self, groups: dict[str, str]) -> list[GroupLag]:
        if self._admin is None:
            # Critical lines only: not a line per reconnect while the broker is away (the page says unknown)
            self._admin = AdminClient(admin_config(self.bootstrap, log_level=2, **self.security))
        return [self._group_lag(self._admin, name, group) for name, group in groups.items()]

    def _group_lag(self, admin: AdminClient, name: str, group: str) -> GroupLag:
        """One group's lag; a broker that does not answer raises (KafkaException): then no group's is known."""
        futures = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)],
                                                    request_timeout=self.timeout_s)
        committed = [tp for tp in futures[group].result().topic_partitions or [] if tp.offset >= 0]
        if not committed:
            return GroupLag(name, group, None, "no offsets committed: not running here")
        ends = admin.list_offsets({TopicPartition(tp.topic, tp.partition): OffsetSpec.latest() for tp in committed},
                                  request_timeout=self.timeout_s)
        end = {(tp.topic, tp.partition): future.result().offset for tp, future in ends.items()}
        return GroupLag(name, group, sum(max(0, end[(tp.topic, tp.partition)] - tp.offset) for tp in committed))

"""What one engine process is, and the client configurations that follow from it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from jobstream.config import Settings
from jobstream.streams.kafka_io import BATCHED_FETCH, consumer_config, producer_config


@dataclass(frozen=True)
class EngineConfig:
    app_id: str  # the consumer group, and the prefix of the transactional id
    input_topics: tuple[str, ...]  # co-partitioned: partition n of each is one unit of work
    changelog_topic: str  # compacted, co-partitioned with the input
    instance_id: str | None = None  # static membership and a stable transactional id
    max_batch: int = 2000  # messages per poll, hence per transaction at most
    poll_timeout_s: float = 0.1  # waiting for the first message; a lone one is taken at once
    # Under load (this many already waiting when polled), wait this long more to fill the
    # transaction: its fixed cost (markers, offsets, one produce request per partition) is then
    # spread over more messages. Below it, a batch closes as soon as nothing more is there.
    gather_from: int = 16
    gather_s: float = 0.005
    punctuate_every_s: float = 1.0
    transaction_timeout_ms: int = 10_000  # bounds how long a crashed owner's transaction holds readers
    session_timeout_ms: int = 6_000  # a killed instance's partitions move after this (the broker's minimum)
    liveness_s: float = 60.0  # > the longest transaction of any producer of the input (API: 30 s)
    restore_timeout_s: float = 600.0
    batched_fetch: bool = False  # off the latency path: let the broker batch fetches (kafka_io.BATCHED_FETCH)

    @property
    def cooperative(self) -> bool:
        """One input: cooperative-sticky, so partitions that stay keep flowing during a rebalance.
        Several: the range assignor, the only one that gives partition n of every input topic to
        the same member (a store covers them together)."""
        return len(self.input_topics) == 1

    @property
    def transactional_id(self) -> str:
        """Stable with an instance id, so that a restarted process fences its predecessor's
        transaction at once instead of waiting for it to time out."""
        return f"{self.app_id}-{self.instance_id or uuid.uuid4().hex}"


def engine_consumer_config(settings: Settings, config: EngineConfig) -> dict[str, Any]:
    overrides: dict[str, Any] = {
        "isolation.level": "read_committed",
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "partition.assignment.strategy": "cooperative-sticky" if config.cooperative else "range",
        "session.timeout.ms": config.session_timeout_ms,
        "heartbeat.interval.ms": 1000,
        "max.poll.interval.ms": int(config.restore_timeout_s * 1000) + 60_000,  # restores run inside poll
    }
    if config.instance_id:
        overrides["group.instance.id"] = config.instance_id
    if config.batched_fetch:
        overrides.update(BATCHED_FETCH)
    return consumer_config(settings, config.app_id, **overrides)


def engine_producer_config(settings: Settings, config: EngineConfig, transactional_id: str) -> dict[str, Any]:
    return producer_config(settings, **{
        "transactional.id": transactional_id,
        "transaction.timeout.ms": config.transaction_timeout_ms,
        "enable.idempotence": True,
        "acks": "all",
        # Nothing is readable before the commit, and the commit flushes at once whatever the linger
        # (librdkafka >= 1.8): a transaction's records of a partition go in one produce request at
        # the commit instead of one per millisecond of the batch (at 1 ms: 1.79 produce requests
        # per job in a burst, 1.19 at 100 ms). The price: a lone command's records now travel
        # after send_offsets_to_transaction's round trips, not during them (docs/architecture.md).
        "linger.ms": 100,
        # A transaction begun right after the previous commit is often told CONCURRENT_TRANSACTIONS
        # while the coordinator still writes that commit's markers; librdkafka retries after this
        # backoff, 100 ms by default: send_offsets_to_transaction then took 94 ms p50 here, 3.6 ms
        # with 5 ms (doubling up to 100 ms under repeated refusals).
        "retry.backoff.ms": 5,
        "retry.backoff.max.ms": 100,
    })


def restore_consumer_config(settings: Settings, config: EngineConfig) -> dict[str, Any]:
    """A plain reader (assign, never subscribe or commit) of committed changelog records."""
    return consumer_config(settings, f"{config.app_id}.restore", **{
        "isolation.level": "read_committed",
        "enable.partition.eof": True,
        "auto.offset.reset": "earliest",
        "fetch.wait.max.ms": 50,
    })

"""Execution logs are kept ``JOBSTREAM_LOG_RETENTION_DAYS`` (default 30), in Postgres and on the logs topic.

The logs projector purges ``execution_logs`` now and then, in small batches of the oldest rows (by
the ``at`` index), each its own short transaction: a delete takes row locks on expired rows only,
which no writer touches, so inserts of new chunks never wait on it. While a purge finds a full
batch it goes on at the next loop turn, so a large backlog is worked off without stalling the
projection. The logs topic's ``retention.ms`` is set to the same duration at start.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import psycopg
from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource, ResourceType
from prometheus_client import Counter

from jobstream.clock import utcnow
from jobstream.infra.topics import retention_ms
from jobstream.streams.kafka_io import admin_config

log = logging.getLogger(__name__)
PURGE_EVERY_S = 600.0
PURGE_BATCH = 5000
PURGED = Counter("jobstream_logs_purged_chunks_total", "Log chunks deleted from execution_logs past their retention.")
DELETE_EXPIRED = """
DELETE FROM execution_logs WHERE ctid = ANY(ARRAY(
    SELECT ctid FROM execution_logs WHERE at < %s ORDER BY at LIMIT %s))
"""


def cutoff(now: datetime, retention_days: float) -> datetime:
    """Chunks written before this are past their retention."""
    return now - timedelta(days=retention_days)


def purge_expired(conn: psycopg.Connection[Any], before: datetime, batch: int = PURGE_BATCH) -> int:
    """Delete up to ``batch`` chunks older than ``before``, in one short transaction; how many went."""
    with conn.transaction():
        deleted = conn.execute(DELETE_EXPIRED, (before, batch)).rowcount
    PURGED.inc(deleted)
    return deleted


class LogPurger:
    """When to purge: every ``every_s``, and again at once while batches come back full."""

    def __init__(self, retention_days: float, every_s: float = PURGE_EVERY_S, batch: int = PURGE_BATCH,
                 clock: Callable[[], float] = time.monotonic, now: Callable[[], datetime] = utcnow) -> None:
        self.retention_days, self.every_s, self.batch = retention_days, every_s, batch
        self.clock, self.now = clock, now
        self.next_at = clock()

    def maybe_purge(self, conn: psycopg.Connection[Any]) -> int:
        if self.clock() < self.next_at:
            return 0
        deleted = purge_expired(conn, cutoff(self.now(), self.retention_days), self.batch)
        self.next_at = self.clock() + (0.0 if deleted == self.batch else self.every_s)
        if deleted:
            log.info("purged %d log chunks older than %g days", deleted, self.retention_days)
        return deleted


def align_topic_retention(bootstrap: str, topic: str, retention_days: float, timeout_s: float = 30.0,
                          security: dict[str, Any] | None = None) -> bool:
    """Set the topic's ``retention.ms`` to ``retention_days`` if it differs; whether it was changed.
    ``security``: the client's (streams/kafka_security.py)."""
    admin = AdminClient(admin_config(bootstrap, **(security or {})))
    resource = ConfigResource(ResourceType.TOPIC, topic)
    wanted = str(retention_ms(retention_days))
    current = admin.describe_configs([resource], request_timeout=timeout_s)[resource].result(timeout_s)
    if current["retention.ms"].value == wanted:
        return False
    change = ConfigResource(ResourceType.TOPIC, topic, incremental_configs=[
        ConfigEntry("retention.ms", wanted, incremental_operation=AlterConfigOpType.SET)])
    admin.incremental_alter_configs([change], request_timeout=timeout_s)[change].result(timeout_s)
    log.info("topic %s: retention.ms set to %s (%g days)", topic, wanted, retention_days)
    return True

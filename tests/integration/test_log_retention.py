"""Log retention against the real Postgres and broker: the purge deletes expired chunks in batches
without blocking a writer, keeps the rest, and the logs topic's retention is set to the same days."""

from __future__ import annotations

from datetime import timedelta

from confluent_kafka.admin import AdminClient, ConfigResource, ResourceType

from jobstream.clock import utcnow
from jobstream.config import Settings
from jobstream.infra.topics import DAY_MS, Topics, ensure_topics
from jobstream.projections.log_retention import LogPurger, align_topic_retention, purge_expired
from jobstream.projections.logs import chunk_row, ensure_logs_schema, write_chunks
from jobstream.projections.schema import connect
from jobstream.schemas import LogChunk
from tests.integration.harness import poll


def chunk(execution_id: str, seq: int, age_days: float) -> LogChunk:
    return LogChunk(execution_id=execution_id, job_id="j", attempt=1, worker_id="w", seq=seq, stream="stdout",
                    data=f"line {seq}\n", at=utcnow() - timedelta(days=age_days))


def test_the_purge_deletes_expired_chunks_in_batches_and_never_blocks_a_writer(database_url: str,
                                                                               unique_name: str) -> None:
    conn, writer = connect(database_url, unique_name), connect(database_url, unique_name)
    ensure_logs_schema(conn, unique_name)
    # Given 7 chunks 40 days old and 3 from today, with a retention of 30 days
    write_chunks(conn, [chunk_row(chunk("old.1", seq, 40)) for seq in range(1, 8)]
                 + [chunk_row(chunk("new.1", seq, 0)) for seq in range(1, 4)], {})
    now = [0.0]
    purger = LogPurger(30, every_s=600, batch=3, clock=lambda: now[0])

    # When a purge is under way (its transaction open), a writer inserts a new chunk at once
    with conn.transaction():
        assert purge_expired(conn, utcnow() - timedelta(days=30), batch=3) == 3
        writer.execute("SET lock_timeout = '2s'")
        write_chunks(writer, [chunk_row(chunk("new.2", 1, 0))], {})  # would raise LockNotAvailable if blocked

    # Then the purger works off the rest batch after batch while batches come back full, then rests
    assert [purger.maybe_purge(conn) for _ in range(3)] == [3, 1, 0]
    assert purger.next_at == 600
    remaining = conn.execute("SELECT execution_id, count(*) FROM execution_logs GROUP BY 1 ORDER BY 1").fetchall()
    assert remaining == [("new.1", 3), ("new.2", 1)]
    conn.close()
    writer.close()


def test_the_logs_topic_keeps_what_the_table_keeps(test_settings: Settings) -> None:
    topics = Topics(test_settings.topic_prefix)
    ensure_topics(test_settings.kafka_bootstrap, topics.specs(test_settings.partitions, log_retention_days=7))
    admin = AdminClient({"bootstrap.servers": test_settings.kafka_bootstrap})
    resource = ConfigResource(ResourceType.TOPIC, topics.logs)

    def retention() -> str:
        return str(admin.describe_configs([resource])[resource].result()["retention.ms"].value)

    assert retention() == str(7 * DAY_MS)
    assert align_topic_retention(test_settings.kafka_bootstrap, topics.logs, 30) is True
    poll(lambda: retention() == str(30 * DAY_MS), 30, "the broker to apply the new retention")
    assert align_topic_retention(test_settings.kafka_bootstrap, topics.logs, 30) is False

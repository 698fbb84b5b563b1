"""Job events into Postgres through a real Kafka Connect worker: the analytics projector's flat
rows, Apicurio's Avro converter and the Debezium JDBC sink, deployed from the shipped config.
Each event is one row, also when the Connect worker is killed (-9) and started again mid-way."""

from __future__ import annotations

import os
import signal

import httpx
import psycopg
import pytest

from jobstream.config import Settings
from jobstream.connect_cli import deploy
from jobstream.infra.connect import LocalConnect
from tests.integration.harness import ServiceProcess, poll, service_args, submit_job, wait_terminal

JOBS = 100


@pytest.fixture
def test_settings(infra_settings: Settings, unique_name: str, schema_registry_url: str) -> Settings:
    """Confluent's wire format through the real registry: what the sink's converter reads."""
    return infra_settings.with_(topic_prefix=f"jobstream-{unique_name}", partitions=3,
                                schema_registry_url=schema_registry_url)


def _rows(database_url: str, table: str) -> list[tuple[str, int, str, str | None]]:
    with psycopg.connect(database_url) as conn:
        exists = conn.execute("SELECT to_regclass(%s)", (table,)).fetchone()
        if exists is None or exists[0] is None:
            return []
        return conn.execute(f"SELECT job_id, seq, type, status FROM {table} ORDER BY job_id, seq").fetchall()


def _events(stack: httpx.Client, job_ids: list[str]) -> list[tuple[str, int, str]]:
    return sorted((job_id, e["seq"], e["type"]) for job_id in job_ids
                  for e in stack.get(f"/v1/jobs/{job_id}/events").json()["items"])


@pytest.mark.timeout(600)  # the session's first use starts the registry and the Connect worker (JVMs)
def test_each_job_event_is_one_row_also_across_a_killed_connect_worker(
        stack: httpx.Client, services: dict[str, ServiceProcess], test_settings: Settings,
        kafka_connect: LocalConnect, unique_name: str) -> None:
    # Given the stack, the analytics projector and the shipped connector on a table of our own
    services["analytics"] = ServiceProcess("analytics", service_args("analytics", 0, unique_name), test_settings,
                                           services["api"].log_path.parent).start()
    table = f"analytics.{unique_name}"
    deploy(test_settings, kafka_connect.url, name=unique_name, table=table)

    # When half the jobs run and the worker is killed as their first rows arrive, and the other
    # half runs while it is down
    first = [submit_job(stack, ["echo", f"job {n}"])["job_id"] for n in range(JOBS // 2)]
    poll(lambda: _rows(test_settings.database_url, table), 180, "the first rows in the analytics table")
    pid = kafka_connect.jvm.running_pid()
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    second = [submit_job(stack, ["echo", f"job {n}"])["job_id"] for n in range(JOBS // 2, JOBS)]
    wait_terminal(stack, first + second, timeout_s=120)
    kafka_connect.up()

    # Then every event of every job is in the table exactly once, with its flat columns
    events = _events(stack, first + second)
    assert len(events) == JOBS * 5
    def all_rows() -> list[tuple[str, int, str, str | None]] | None:
        found = _rows(test_settings.database_url, table)
        return found if len(found) >= len(events) else None

    rows = poll(all_rows, 240, f"{len(events)} rows in {table}")
    assert [(job_id, seq, kind) for job_id, seq, kind, _ in rows] == events
    assert {status for _, _, kind, status in rows if kind == "JobCompleted"} == {"completed"}
    print(f"{len(rows)} rows in {table} after the Connect worker was killed and restarted")

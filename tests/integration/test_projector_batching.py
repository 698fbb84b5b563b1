"""The batched projector against the real broker and Postgres: rows do not depend on where batches end,
and a batch's reads are key lookups even on a fresh (replay's) schema."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from jobstream.config import Settings
from jobstream.core.decide import decide
from jobstream.core.state import JobState, evolve
from jobstream.infra.topics import Topics, ensure_topics
from jobstream.projections import projector as projector_module
from jobstream.projections.batch import Batch
from jobstream.projections.projector import Projector
from jobstream.projections.rows import EventRow, ExecutionRow, JobRow, columns
from jobstream.projections.schema import connect, drop_schema
from jobstream.projections.store import SELECT_EXECUTIONS, SELECT_JOBS
from jobstream.schemas import (
    AssignJob,
    CancelJob,
    Command,
    JobEvent,
    Outcome,
    ReportFinished,
    ReportProgress,
    ReportStarted,
    SubmitJob,
)
from jobstream.streams.kafka_io import Publisher
from tests.unit.builders import T0, command, spec


def job_events(job_id: str, ending: str) -> list[JobEvent]:
    """A job through decide/evolve: submitted, started, then completed, cancelled while running, or left running."""
    state, events, clock = JobState(job_id), [], T0

    def do(cls: type[Command], **fields: Any) -> None:
        nonlocal state, clock
        clock += timedelta(milliseconds=10)
        for event in decide(state, command(cls, job_id=job_id, **fields), clock):
            state = evolve(state, event)
            events.append(event)

    def lease(**fields: Any) -> dict[str, Any]:
        return {"execution_id": state.execution_id, "attempt": state.attempt, "worker_id": "w1", **fields}

    do(SubmitJob, spec=spec(name=job_id, labels={"ending": ending}))
    do(AssignJob, **lease())
    do(ReportStarted, **lease(pid=7))
    do(ReportProgress, **lease(percent=50.0, message="half"))
    if ending == "completed":
        do(ReportFinished, **lease(outcome=Outcome.SUCCEEDED, exit_code=0, stdout_tail="ok", duration_ms=5))
    elif ending == "cancelled":
        do(CancelJob)  # changes the current execution, which the cancel does not name
    return events


@pytest.fixture
def schema(database_url: str, unique_name: str) -> Iterator[str]:
    yield unique_name
    with connect(database_url, unique_name) as conn:
        drop_schema(conn, unique_name)


def stored(database_url: str, schema: str) -> tuple[set[JobRow], set[ExecutionRow], set[EventRow]]:
    def select(cls: type[Any], table: str) -> list[Any]:
        return [cls(*row) for row in conn.execute(f"SELECT {', '.join(columns(cls))} FROM {table}").fetchall()]  # type: ignore[arg-type]

    with connect(database_url, schema) as conn:
        return (set(map(_hashable, select(JobRow, "jobs"))), set(select(ExecutionRow, "executions")),
                set(map(_hashable, select(EventRow, "job_events"))))


def _hashable(row: Any) -> Any:
    """Rows hold dicts (jsonb, whose key order is its own): compare them as JSON with sorted keys."""
    return tuple(json.dumps(v, sort_keys=True) if isinstance(v, dict) else v for v in row)


@pytest.mark.parametrize("batch_size", [1, 7])
def test_rows_do_not_depend_on_where_batches_end(test_settings: Settings, schema: str, database_url: str,
                                                 batch_size: int, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given jobs that complete, are cancelled while running or are still running, on several partitions
    topics = Topics(test_settings.topic_prefix)
    ensure_topics(test_settings.kafka_bootstrap, topics.specs(test_settings.partitions))
    endings = ("completed", "cancelled", "running")
    records = [event for n in range(12) for event in job_events(f"job-{n}", endings[n % 3])]
    publisher = Publisher(test_settings)
    for event in records:
        publisher.publish(topics.events, event.envelope.job_id, event)
    assert publisher.flush(30) == 0
    publisher.producer.close()

    # When the projector applies them in small batches, each loading what the ones before it wrote
    monkeypatch.setattr(projector_module, "BATCH_SIZE", batch_size)
    with Projector(test_settings, schema) as projector:
        counts = projector.run_until_caught_up(timeout_s=120)

    # Then the rows are those of folding every event in one batch in memory
    whole = Batch()
    for event in records:
        assert whole.apply(event)
    jobs, executions, _, events = whole.rows_to_write()
    assert (counts.applied, counts.duplicates) == (len(records), 0)
    assert stored(database_url, schema) == (set(map(_hashable, jobs)), set(executions), set(map(_hashable, events)))
    assert sum(e.status == "cancelled" for e in executions) == 4  # the cancels reached executions loaded from Postgres


def test_a_batch_reads_rows_by_key_even_before_the_tables_have_statistics(
        test_settings: Settings, schema: str) -> None:
    ensure_topics(test_settings.kafka_bootstrap, Topics(test_settings.topic_prefix).specs(test_settings.partitions))
    with Projector(test_settings, schema) as projector:
        conn = projector.conn
        with conn.transaction():  # a fresh schema, as a replay has: rows but no statistics yet
            conn.execute("INSERT INTO jobs (job_id, seq, updated_at, execution_id) "
                         "SELECT 'job-' || n, 1, now(), 'job-' || n || '.1' FROM generate_series(1, 5000) n")
            conn.execute("INSERT INTO executions (execution_id, job_id, attempt, status) "
                         "SELECT 'job-' || n || '.1', 'job-' || n, 1, 'queued' FROM generate_series(1, 5000) n")
            ids = [f"job-{n}" for n in range(1, 40)]
            plans = ["\n".join(str(row[0]) for row in conn.execute(f"EXPLAIN {query}", params).fetchall())  # type: ignore[arg-type]
                     for query, params in ((SELECT_JOBS, (ids,)), (SELECT_EXECUTIONS, ([], ids)))]
        jit = conn.execute("SHOW jit").fetchone()
    for plan in plans:
        assert "Seq Scan" not in plan and "Index" in plan, plan
    assert jit == ("off",)

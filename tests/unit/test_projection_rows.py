"""Rows on their way to Postgres: the JSON that json_populate_recordset reads, and the SQL built from rows."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from jobstream.projections.payload import json_safe
from jobstream.projections.rows import (
    FINISHED_EXECUTION,
    UNFINISHED_EXECUTION,
    EventRow,
    ExecutionRow,
    ExecutionStatus,
    JobRow,
    WorkerRow,
    columns,
)
from jobstream.projections.schema import ddl
from jobstream.projections.store import INSERT_EVENT, UPSERT_JOB, UPSERT_WORKER, rows_json
from jobstream.schemas import Outcome

AT = datetime(2026, 1, 1, 12, 0, 0, 123456, tzinfo=UTC)


def test_rows_become_one_json_object_per_row_keyed_by_column() -> None:
    row = ExecutionRow("j.1", "j", 1, "running", worker_id="w1", started_at=AT, progress_percent=0.1)
    [decoded] = json.loads(rows_json(ExecutionRow, [row]))
    assert list(decoded) == list(columns(ExecutionRow))
    assert decoded["started_at"] == "2026-01-01T12:00:00.123456+00:00" and decoded["progress_percent"] == 0.1


def test_nul_characters_become_replacement_characters_but_escaped_backslashes_stay() -> None:
    row = EventRow("e", "j", 1, "JobCompleted", AT, "a", None, None, {"tail": "a\x00b", "path": "C:\\u0000"})
    [decoded] = json.loads(rows_json(EventRow, [row]))
    assert decoded["payload"] == {"tail": "a\ufffdb", "path": "C:\\u0000"}


def test_json_safe_turns_enums_into_symbols_and_non_finite_floats_into_null() -> None:
    value = json_safe({"outcome": Outcome.LOST, "x": float("nan"), "y": [float("inf"), 1.5], "at": AT})
    assert value == {"outcome": "lost", "x": None, "y": [None, 1.5], "at": AT.isoformat()}
    assert type(value["outcome"]) is str


def test_upserts_write_only_newer_seqs_and_events_only_once() -> None:
    assert UPSERT_JOB.endswith("WHERE jobs.seq < EXCLUDED.seq")
    assert UPSERT_WORKER.endswith("WHERE workers.seq < EXCLUDED.seq")
    assert INSERT_EVENT.endswith("ON CONFLICT DO NOTHING")


def _ddl_columns(table: str) -> set[str]:
    body = ddl().split(f"CREATE TABLE IF NOT EXISTS {table} (", 1)[1].split("\n);", 1)[0]
    words = (line.split()[0] for line in body.splitlines() if line.strip())
    return {word for word in words if word not in {"PRIMARY", "UNIQUE", "--"}}


@pytest.mark.parametrize(("table", "cls"), [("jobs", JobRow), ("executions", ExecutionRow),
                                            ("workers", WorkerRow), ("job_events", EventRow)])
def test_row_classes_have_exactly_the_columns_of_schema_sql(table: str, cls: type[Any]) -> None:
    assert set(columns(cls)) == _ddl_columns(table)


def test_every_outcome_is_an_execution_status_that_counts_as_finished() -> None:
    assert {ExecutionStatus(outcome) for outcome in Outcome} <= FINISHED_EXECUTION
    assert FINISHED_EXECUTION.isdisjoint(UNFINISHED_EXECUTION)

"""Rows in and out of Postgres: the only module that reads or writes the read model's tables.

One batch is one transaction: lock and load the rows the batch touches, fold it in memory
(batch.py), write each table's changed rows with one statement (a JSON array of rows, pipelined),
store the Kafka positions (projection_offsets) and queue one NOTIFY per job. Postgres delivers
notifications at commit, so a listener that hears a job_id can read that job's rows.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

import orjson
import psycopg
from psycopg.types.json import set_json_loads
from tenacity import RetryCallState, RetryError, Retrying, retry_if_exception_type

from jobstream.outage import Outage
from jobstream.retrying import reconnect_backoff
from jobstream.schemas import CommandResult, Record

from .batch import Batch, wanted
from .command_results import REJECTIONS, results_of
from .rows import AuditRow, EventRow, ExecutionRow, JobRow, PoisonedRow, Row, TemplateRow, WorkerRow, columns

log = logging.getLogger(__name__)

R = TypeVar("R", bound=Row)
PartitionKey = tuple[str, int]  # (topic, partition)


def _select(cls: type[Row], table: str, key: str, lock: bool) -> str:
    return f"SELECT {', '.join(columns(cls))} FROM {table} WHERE {key} = ANY(%s)" + (" FOR UPDATE" if lock else "")


def _insert(cls: type[Row], table: str, conflict: str) -> str:
    """One statement per table and batch: the rows travel as one JSON array, typed by the table itself
    (as jsonb: parsed once, where json would be parsed again for every field taken out of it)."""
    cols = ", ".join(columns(cls))
    rows = f"jsonb_populate_recordset(NULL::{table}, %s::jsonb)"
    return f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {rows} {conflict}"


def _upsert(cls: type[Row], table: str, key: str, guard: str | None) -> str:
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns(cls) if c != key)
    where = f" WHERE {table}.{guard} < EXCLUDED.{guard}" if guard else ""
    return _insert(cls, table, f"ON CONFLICT ({key}) DO UPDATE SET {updates}{where}")


# Rows are locked while a batch folds into them, so two projectors sharing a schema serialise;
# the seq guards make a stale writer's upsert a no-op all the same.
SELECT_JOBS = _select(JobRow, "jobs", "job_id", lock=True)
SELECT_WORKERS = _select(WorkerRow, "workers", "worker_id", lock=True)
# The executions the events name, and the current one of each job (a cancel changes it): one round
# trip with the other two selects, after the jobs' lock (statements of a pipeline run in order).
SELECT_EXECUTIONS = (f"SELECT {', '.join(columns(ExecutionRow))} FROM executions WHERE execution_id = ANY("
                     "%s::text[] || ARRAY(SELECT execution_id FROM jobs "
                     "WHERE job_id = ANY(%s::text[]) AND execution_id IS NOT NULL))")
UPSERT_JOB = _upsert(JobRow, "jobs", "job_id", guard="seq")
UPSERT_WORKER = _upsert(WorkerRow, "workers", "worker_id", guard="seq")
UPSERT_EXECUTION = _upsert(ExecutionRow, "executions", "execution_id", guard=None)
INSERT_EVENT = _insert(EventRow, "job_events", "ON CONFLICT DO NOTHING")
INSERT_POISONED = _insert(PoisonedRow, "poisoned_commands", "ON CONFLICT DO NOTHING")
INSERT_AUDIT = _insert(AuditRow, "audit_log", "ON CONFLICT DO NOTHING")
# A result needs an event's payload only for a rejection's reason: the others (a submission's whole
# spec) stay in Postgres.
_CAUSED_COLUMNS = ", ".join(
    c if c != "payload" else f"CASE WHEN type IN ({', '.join(map(repr, sorted(REJECTIONS)))}) THEN payload "
                             "ELSE '{}'::jsonb END" for c in columns(EventRow))
SELECT_CAUSED = f"SELECT {_CAUSED_COLUMNS} FROM job_events WHERE causation_id = ANY(%s) ORDER BY job_id, seq"
SELECT_POISONED = _select(PoisonedRow, "poisoned_commands", "command_id", lock=False)
UPSERT_TEMPLATE = _upsert(TemplateRow, "templates", "name", guard="latest")
SELECT_OFFSETS = "SELECT topic, partition, next_offset FROM projection_offsets WHERE topic = ANY(%s)"
UPSERT_OFFSETS = ("INSERT INTO projection_offsets (topic, partition, next_offset) "
                  "SELECT * FROM unnest(%s::text[], %s::int[], %s::bigint[]) "
                  "ON CONFLICT (topic, partition) DO UPDATE "
                  "SET next_offset = GREATEST(projection_offsets.next_offset, EXCLUDED.next_offset)")
NOTIFY = "SELECT pg_notify(%s, job_id) FROM unnest(%s::text[]) AS job_id"
TABLES = ("jobs", "executions", "workers", "job_events", "templates", "projection_offsets")

# Postgres text and json cannot hold NUL: an escaped one (not an escaped backslash before "u0000")
# becomes U+FFFD, the same way on every replay.
_NUL = re.compile(r"(?<!\\)((?:\\\\)*)\\u0000")


def _json_default(value: Any) -> str:
    raise TypeError(f"no JSON form for {type(value).__name__}")


def rows_json(cls: type[Row], rows: Sequence[Row]) -> str:
    """Rows as the JSON array jsonb_populate_recordset reads: one object per row, keyed by column.
    orjson writes datetimes as isoformat does and is several times faster than the stdlib's encoder,
    which was a fifth of the projector's CPU."""
    cols = columns(cls)
    text = orjson.dumps([dict(zip(cols, row, strict=True)) for row in rows], default=_json_default).decode()
    return _NUL.sub(r"\1\\ufffd", text) if "\\u0000" in text else text


def prepare_connection(conn: psycopg.Connection[Any]) -> None:
    """Every read of a batch is a primary-key lookup. A replay's tables are new and grow faster than
    autovacuum analyses them, so without statistics the planner would scan them whole on each batch
    (quadratic over a replay): have it use the keys' indexes whatever the statistics say. The penalty
    that puts on any scan would also push statements past jit_above_cost, and compiling costs ~90 ms
    where a batch's statement runs in a few: no JIT on this connection."""
    conn.execute("SET enable_seqscan = off")
    conn.execute("SET jit = off")
    set_json_loads(orjson.loads, conn)  # the payloads read back for command results


def load_batch(conn: psycopg.Connection[Any], records: Sequence[Record]) -> Batch:
    """Lock and load every row the records may change, in one round trip (inside the batch's transaction)."""
    want = wanted(records)
    with conn.pipeline():
        jobs = conn.execute(SELECT_JOBS, (want.job_ids,)) if want.job_ids else None
        executions = (conn.execute(SELECT_EXECUTIONS, (want.execution_ids, want.job_ids))
                      if want.job_ids or want.execution_ids else None)
        workers = conn.execute(SELECT_WORKERS, (want.worker_ids,)) if want.worker_ids else None
    return Batch.loaded(_rows(jobs, JobRow), _rows(executions, ExecutionRow), _rows(workers, WorkerRow))


def _rows(cursor: psycopg.Cursor[Any] | None, cls: type[R]) -> list[R]:
    return [] if cursor is None else [cls(*row) for row in cursor.fetchall()]


def write_batch(conn: psycopg.Connection[Any], batch: Batch, offsets: Mapping[PartitionKey, int],
                channel: str) -> None:
    """Write the folded rows, the new positions and the notifications (inside the transaction)."""
    jobs, executions, workers, events = batch.rows_to_write()
    poisoned = list(batch.poisoned.values())
    with conn.pipeline():
        for query, cls, rows in ((UPSERT_JOB, JobRow, jobs), (UPSERT_EXECUTION, ExecutionRow, executions),
                                 (UPSERT_WORKER, WorkerRow, workers), (INSERT_EVENT, EventRow, events),
                                 (INSERT_POISONED, PoisonedRow, poisoned),
                                 (UPSERT_TEMPLATE, TemplateRow, list(batch.templates.values())),
                                 (INSERT_AUDIT, AuditRow, list(batch.audit.values()))):
            if rows:
                conn.execute(query, (rows_json(cls, rows),))  # type: ignore[arg-type]
        if offsets:
            keys = list(offsets)
            conn.execute(UPSERT_OFFSETS, ([t for t, _ in keys], [p for _, p in keys], [offsets[k] for k in keys]))
        if batch.notify_job_ids:
            conn.execute(NOTIFY, (channel, list(batch.notify_job_ids)))


def load_results(conn: psycopg.Connection[Any], command_ids: list[str]) -> list[CommandResult]:
    """What became of these commands, from every event they caused and the poisoned ones (in the transaction)."""
    with conn.pipeline():
        events = conn.execute(SELECT_CAUSED, (command_ids,))
        poisoned = conn.execute(SELECT_POISONED, (command_ids,))
    rows = _rows(poisoned, PoisonedRow)
    return results_of(command_ids, _rows(events, EventRow), {row.command_id: row for row in rows})


def load_offsets(conn: psycopg.Connection[Any], topics: Iterable[str]) -> dict[PartitionKey, int]:
    rows = conn.execute(SELECT_OFFSETS, (list(topics),)).fetchall()
    return {(topic, partition): offset for topic, partition, offset in rows}


def table_rows(conn: psycopg.Connection[Any], table: str) -> list[tuple[Any, ...]]:
    """Every row of a read-model table (for replay checks and tests)."""
    if table not in TABLES:
        raise ValueError(f"not a read-model table: {table}")
    return conn.execute(f"SELECT * FROM {table}").fetchall()  # type: ignore[arg-type]


def count_rows(conn: psycopg.Connection[Any]) -> dict[str, int]:
    counts = {}
    for table in TABLES:
        row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()  # type: ignore[arg-type]
        counts[table] = int(row[0]) if row else 0
    return counts


def keep_projecting(poll_once: Callable[[], object], recover: Callable[[], None], stop: threading.Event,
                    what: str, max_backoff_s: float = 5.0) -> None:
    """Call ``poll_once`` until ``stop`` is set. A database failure rolls the batch back, waits
    (doubling, up to ``max_backoff_s``; a batch that succeeds starts it afresh), then ``recover``
    reconnects and rewinds the consumer to the offsets stored in Postgres, so nothing is lost or
    applied twice."""
    def pause(seconds: float) -> None:  # a wait that ``stop`` cuts short
        stop.wait(seconds)

    outage = Outage(f"Postgres ({what} projector)", log)  # logged as a change of state, not per attempt

    def failed(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome is not None else None
        outage.failed(str(error).strip() or type(error).__name__, time.monotonic())

    retrying = Retrying(retry=retry_if_exception_type(psycopg.Error), wait=reconnect_backoff(max_backoff_s),
                        stop=lambda _: stop.is_set(), sleep=pause, before_sleep=failed)
    while not stop.is_set():
        try:
            for attempt in retrying:
                with attempt:
                    if attempt.retry_state.attempt_number > 1:
                        recover()
                    poll_once()
                    outage.recovered(time.monotonic())
        except RetryError:  # stopped while failing
            return

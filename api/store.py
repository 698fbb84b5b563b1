"""Queries of the Postgres read model, in one configurable schema, through an async pool: every
statement the API runs against it is a named method here (the routes hold no SQL).

Tables are qualified with the schema on every query (no search_path games), and datetimes
come back in UTC whatever the server's time zone.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from jobstream.core.lifecycle import Status
from jobstream.outage import Gate, Outage
from jobstream.projections.command_results import result_of
from jobstream.projections.rows import EventRow, PoisonedRow, WorkerStatus
from jobstream.schemas import CommandResult

Row = dict[str, Any]
log = logging.getLogger(__name__)
PROBE_TIMEOUT_S = 0.5  # while the read model is down, a probe waits this long for a connection
# What a reader gets of each log chunk (execution_logs holds the execution's ids besides).
LOG_CHUNK_COLUMNS = ("seq", "stream", "data", "at", "truncated", "eof", "dropped_bytes")


@dataclass(frozen=True)
class Contains:
    """A JSON object column holds at least these keys and values (``labels @> {...}``)."""

    pairs: dict[str, str]


@dataclass(frozen=True)
class StartsWith:
    """A text column starting with ``prefix``."""

    prefix: str


@dataclass(frozen=True)
class Between:
    """A time column at or after ``since`` and before ``until`` (an end left None is open)."""

    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class OfJobsLabelled:
    """Rows whose job has at least these labels, in this namespace (executions have neither)."""

    pairs: dict[str, str]
    jobs: sql.Composable  # the jobs table, qualified by the read model's schema
    namespace: str | None = None


@dataclass(frozen=True)
class Filter:
    """Equality filters on columns (or containment, for ``Contains``); None means "any"."""

    values: dict[str, Any]

    def where(self, key: str, after: str | None, descending: bool) -> tuple[sql.Composable, list[Any]]:
        clauses, params = self.clauses()
        if after is not None:
            op = sql.SQL("<") if descending else sql.SQL(">")
            clauses.append(sql.SQL("{} {} %s").format(sql.Identifier(key), op))
            params.append(after)
        return where_clause(clauses), params

    def clauses(self) -> tuple[list[sql.Composable], list[Any]]:
        clauses: list[sql.Composable] = []
        params: list[Any] = []
        for column, value in self.values.items():
            if value is None or value in (Contains({}), Between()) or isinstance(value, OfJobsLabelled) and not (
                    value.pairs or value.namespace):
                continue
            if isinstance(value, StartsWith):  # under "C" a btree index of the column in "C" serves it
                clauses.append(sql.SQL('starts_with({} COLLATE "C", %s)').format(sql.Identifier(column)))
                params.append(value.prefix)
            elif isinstance(value, Between):
                for bound, op in ((value.since, ">="), (value.until, "<")):
                    if bound is not None:
                        clauses.append(sql.SQL("{} {} %s").format(sql.Identifier(column), sql.SQL(op)))
                        params.append(bound)
            elif isinstance(value, OfJobsLabelled):
                clauses.append(sql.SQL("job_id IN (SELECT job_id FROM {} WHERE labels @> %s"
                                       " AND (%s::text IS NULL OR namespace = %s))").format(value.jobs))
                params += [Jsonb(value.pairs), value.namespace, value.namespace]
            elif isinstance(value, Contains):
                clauses.append(sql.SQL("{} @> %s").format(sql.Identifier(column)))
                params.append(Jsonb(value.pairs))
            elif isinstance(value, list | tuple) and len(value) == 1:  # = keeps an index's order, ANY not
                clauses.append(sql.SQL("{} = %s").format(sql.Identifier(column)))
                params.append(value[0])
            elif isinstance(value, list | tuple):
                clauses.append(sql.SQL("{} = ANY(%s)").format(sql.Identifier(column)))
                params.append(list(value))
            else:
                clauses.append(sql.SQL("{} = %s").format(sql.Identifier(column)))
                params.append(value)
        return clauses, params


def where_clause(clauses: list[sql.Composable]) -> sql.Composable:
    return sql.SQL(" WHERE ") + sql.SQL(" AND ").join(clauses) if clauses else sql.SQL("")


# Jobs by submission, newest first: job ids alone do not sort so (ids from idempotency keys are
# not time-ordered, runs of a schedule sort after their parent). A row without submitted_at sorts
# last; job_id breaks ties, and the pair is the key of the pages. The jobs_*_submitted_idx indexes
# of schema.sql hold this expression: keep them in step.
SUBMITTED = sql.SQL("COALESCE(submitted_at, '-infinity'::timestamptz)")


def submission_key(row: Row) -> str:
    """The page key of a job row in that order (what ``jobs_by_submission`` takes as ``after``)."""
    submitted = row["submitted_at"]
    return json.dumps([submitted.isoformat() if submitted is not None else "-infinity", row["job_id"]])


def utc_row(row: Row) -> Row:
    return {k: v.astimezone(UTC) if isinstance(v, datetime) and v.tzinfo else v for k, v in row.items()}


def make_pool(database_url: str, *, min_size: int = 1, max_size: int = 10,
              timeout_s: float = 5.0) -> AsyncConnectionPool:
    """A pool that is not opened yet: the app opens it at startup, without waiting for the DB.
    Each connection is checked as it is lent, so one broken by a database restart is replaced
    instead of failing the request that drew it."""
    return AsyncConnectionPool(database_url, min_size=min_size, max_size=max_size, timeout=timeout_s,
                               open=False, kwargs={"autocommit": True}, name="jobstream-api",
                               check=AsyncConnectionPool.check_connection)


class ReadModelDown(Exception):
    """The read model is known not to answer; a request is told so at once (503)."""


# What says the database itself does not answer (not that one statement failed).
UNAVAILABLE = (ReadModelDown, PoolTimeout, psycopg.OperationalError)


def connection_lost(error: Exception) -> bool:
    """A failure to reach the database: no connection (no SQLSTATE), a connection exception
    (class 08) or a server shutting down or starting (57P01-57P03)."""
    if isinstance(error, PoolTimeout):
        return True
    state = getattr(error, "sqlstate", None)
    return isinstance(error, psycopg.OperationalError) and (state is None or state[:2] == "08" or state[:3] == "57P")


class ReadModel:
    def __init__(self, pool: AsyncConnectionPool, schema: str, gate: Gate | None = None) -> None:
        self.pool, self.schema = pool, schema
        self.gate = gate or Gate(Outage("the read model", log))

    def table(self, name: str) -> sql.Identifier:
        return sql.Identifier(self.schema, name)

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        """A pooled connection; at once ``ReadModelDown`` while the database is known not to answer
        (but for one probe a second, which waits ``PROBE_TIMEOUT_S`` at most)."""
        if not self.gate.may_try():
            raise ReadModelDown("the read model database does not answer")
        try:
            async with self.pool.connection(timeout=PROBE_TIMEOUT_S if self.gate.down else None) as conn:
                yield conn
        except Exception as error:
            if connection_lost(error):
                self.gate.mark_down(str(error) or type(error).__name__)
            raise
        self.gate.mark_up()

    async def fetch(self, query: sql.SQL | sql.Composed, params: list[Any] | tuple[Any, ...] = ()) -> list[Row]:
        async with self.connection() as conn:
            async with conn.cursor(row_factory=dict_row) as cur:
                await cur.execute(query, params)
                return [utc_row(row) for row in await cur.fetchall()]

    async def fetch_one(self, query: sql.SQL | sql.Composed, params: list[Any] | tuple[Any, ...] = ()) -> Row | None:
        rows = await self.fetch(query, params)
        return rows[0] if rows else None

    async def ping(self) -> None:
        """Postgres answers and the read model's tables are there (its projector creates them)."""
        await self.fetch(sql.SQL("SELECT 1 AS ok FROM {} LIMIT 0").format(self.table("job_events")))

    # ------------------------------------------------------------------ paged lists
    async def page(self, table: str, key: str, filters: Filter, limit: int, after: str | None,
                   *, descending: bool) -> list[Row]:
        """Up to ``limit + 1`` rows after the key ``after`` (keyset pagination)."""
        where, params = filters.where(key, after, descending)
        order = sql.SQL("DESC" if descending else "ASC")
        query = sql.SQL("SELECT * FROM {}{} ORDER BY {} {} LIMIT %s").format(
            self.table(table), where, sql.Identifier(key), order)
        return await self.fetch(query, [*params, limit + 1])

    # ------------------------------------------------------------------ templates
    async def template(self, name: str) -> Row | None:
        query = sql.SQL("SELECT * FROM {} WHERE name = %s").format(self.table("templates"))
        return await self.fetch_one(query, [name])

    async def templates(self, limit: int, after: str | None) -> list[Row]:
        """Up to ``limit + 1`` templates by name, after the name ``after``."""
        return await self.page("templates", "name", Filter({}), limit, after, descending=False)

    # ------------------------------------------------------------------ jobs
    async def jobs_by_submission(self, filters: Filter, limit: int, after: tuple[str, str] | None) -> list[Row]:
        """Up to ``limit + 1`` jobs, the last submitted first, after the key ``(submitted_at, job_id)``
        (``submitted_at`` as text; ``-infinity`` for a job without one)."""
        clauses, params = filters.clauses()
        window = filters.values.get("submitted_at")
        if isinstance(window, Between):  # the same bounds on the sort key, which the indexes hold
            for bound, op in ((window.since, ">="), (window.until, "<")):
                if bound is not None:
                    clauses.append(sql.SQL("{} {} %s").format(SUBMITTED, sql.SQL(op)))
                    params.append(bound)
        if after is not None:
            clauses.append(sql.SQL("({}, job_id) < (%s::timestamptz, %s)").format(SUBMITTED))
            params += list(after)
        query = sql.SQL("SELECT * FROM {}{} ORDER BY {} DESC, job_id DESC LIMIT %s").format(
            self.table("jobs"), where_clause(clauses), SUBMITTED)
        return await self.fetch(query, [*params, limit + 1])

    async def job(self, job_id: str) -> Row | None:
        query = sql.SQL("SELECT * FROM {} WHERE job_id = %s").format(self.table("jobs"))
        return await self.fetch_one(query, [job_id])

    async def job_events(self, job_id: str, after_seq: int, limit: int) -> list[Row]:
        query = sql.SQL("SELECT * FROM {} WHERE job_id = %s AND seq > %s ORDER BY seq LIMIT %s").format(
            self.table("job_events"))
        return await self.fetch(query, [job_id, after_seq, limit])

    async def dead_letters(self, namespace: str, limit: int, after: str | None,
                           filters: Filter | None = None) -> list[Row]:
        """Failed jobs of the namespace whose last run was dead-lettered (and that match ``filters``),
        newest job first (keyset on job_id)."""
        clauses, params = (filters or Filter({})).clauses()
        query = sql.SQL(
            "SELECT j.*, d.occurred_at AS dead_lettered_at FROM {jobs} j"
            " JOIN LATERAL (SELECT e.occurred_at FROM {events} e WHERE e.job_id = j.job_id"
            "   AND e.type = 'JobDeadLettered' ORDER BY e.seq DESC LIMIT 1) d ON true"
            " WHERE j.status = %s AND j.namespace = %s AND (%s::text IS NULL OR j.job_id < %s){more}"
            " ORDER BY j.job_id DESC LIMIT %s"
        ).format(jobs=self.table("jobs"), events=self.table("job_events"),
                 more=sql.SQL("").join(sql.SQL(" AND ") + clause for clause in clauses))
        return await self.fetch(query, [Status.FAILED.value, namespace, after, after, *params, limit + 1])

    async def rejection(self, job_id: str, command_id: str) -> str | None:
        """The reason the state processor rejected this command, once projected."""
        query = sql.SQL(
            "SELECT payload->>'reason' AS reason FROM {} WHERE job_id = %s AND type = 'CommandRejected'"
            " AND (causation_id = %s OR payload->>'command_id' = %s) ORDER BY seq DESC LIMIT 1"
        ).format(self.table("job_events"))
        row = await self.fetch_one(query, [job_id, command_id, command_id])
        return None if row is None else str(row["reason"] or "rejected")

    async def submitted_by_other(self, job_id: str, command_id: str) -> bool:
        """Whether a submit other than this command created the job."""
        query = sql.SQL(
            "SELECT 1 AS found FROM {} WHERE job_id = %s AND type = 'JobSubmitted'"
            " AND causation_id IS DISTINCT FROM %s LIMIT 1"
        ).format(self.table("job_events"))
        return await self.fetch_one(query, [job_id, command_id]) is not None

    async def decided(self, job_id: str, command_id: str) -> list[Row]:
        """The projected events this command caused (type and rejection reason), in seq order."""
        query = sql.SQL(
            "SELECT type, payload->>'reason' AS reason FROM {} WHERE job_id = %s AND causation_id = %s ORDER BY seq"
        ).format(self.table("job_events"))
        return await self.fetch(query, [job_id, command_id])

    async def command_result(self, command_id: str) -> CommandResult | None:
        """What became of a command: the events it caused, or its poisoning; None while nothing is known."""
        events = await self.fetch(sql.SQL("SELECT * FROM {} WHERE causation_id = %s ORDER BY job_id, seq").format(
            self.table("job_events")), [command_id])
        poisoned = await self.fetch_one(sql.SQL("SELECT * FROM {} WHERE command_id = %s").format(
            self.table("poisoned_commands")), [command_id])
        return result_of(command_id, [EventRow(**row) for row in events],
                         None if poisoned is None else PoisonedRow(**poisoned))

    async def command_namespace(self, command_id: str) -> str | None:
        """The namespace of the job a command acted on, once one of its events is projected."""
        query = sql.SQL("SELECT namespace FROM {} WHERE causation_id = %s LIMIT 1").format(self.table("job_events"))
        row = await self.fetch_one(query, [command_id])
        return None if row is None else str(row["namespace"])

    async def existing(self, job_ids: list[str], namespace: str | None) -> set[str]:
        """Which of these jobs the read model knows (in ``namespace``; None: in any)."""
        query = sql.SQL("SELECT job_id FROM {} WHERE job_id = ANY(%s) AND (%s::text IS NULL OR namespace = %s)"
                        ).format(self.table("jobs"))
        return {row["job_id"] for row in await self.fetch(query, [job_ids, namespace, namespace])}

    async def matching(self, filters: Filter, statuses: frozenset[Status], dead_lettered: bool,
                       limit: int) -> tuple[list[str], int]:
        """Up to ``limit`` ids of the jobs in one of ``statuses`` (and dead-lettered, if asked) that
        match every filter, in id order, and how many match in all."""
        clauses, params = filters.clauses()
        clauses.append(sql.SQL("status = ANY(%s)"))
        params.append(sorted(s.value for s in statuses))
        if dead_lettered:
            clauses.append(sql.SQL("EXISTS (SELECT 1 FROM {} e WHERE e.job_id = j.job_id"
                                   " AND e.type = 'JobDeadLettered')").format(self.table("job_events")))
        query = sql.SQL("SELECT job_id, count(*) OVER () AS matched FROM {} j{} ORDER BY job_id LIMIT %s").format(
            self.table("jobs"), where_clause(clauses))
        rows = await self.fetch(query, [*params, limit])
        return [row["job_id"] for row in rows], int(rows[0]["matched"]) if rows else 0

    # ------------------------------------------------------------------ the audit trail
    async def audit(self, namespace: str, actor: str | None, action: str | None, since: datetime | None,
                    limit: int, after: tuple[str, str] | None) -> list[Row]:
        """Up to ``limit + 1`` entries of ``namespace`` (and those refused before one was known),
        newest first, after the key ``(at, entry_id)``."""
        query = sql.SQL(
            "SELECT * FROM {} WHERE (namespace = %(ns)s OR namespace IS NULL)"
            " AND (%(actor)s::text IS NULL OR actor = %(actor)s)"
            " AND (%(action)s::text IS NULL OR action = %(action)s)"
            " AND (%(since)s::timestamptz IS NULL OR at >= %(since)s)"
            " AND (%(at)s::timestamptz IS NULL OR (at, entry_id) < (%(at)s::timestamptz, %(id)s))"
            " ORDER BY at DESC, entry_id DESC LIMIT %(limit)s"
        ).format(self.table("audit_log"))
        params = {"ns": namespace, "actor": actor, "action": action, "since": since,
                  "at": after[0] if after else None, "id": after[1] if after else None, "limit": limit + 1}
        async with self.pool.connection() as conn:
            async with conn.cursor(row_factory=dict_row) as cur:
                await cur.execute(query, params)
                return [utc_row(row) for row in await cur.fetchall()]

    # ------------------------------------------------------------------ executions and workers
    async def execution(self, execution_id: str) -> Row | None:
        query = sql.SQL("SELECT * FROM {} WHERE execution_id = %s").format(self.table("executions"))
        return await self.fetch_one(query, [execution_id])

    async def executions_of(self, job_id: str) -> list[Row]:
        query = sql.SQL("SELECT * FROM {} WHERE job_id = %s ORDER BY attempt, execution_id").format(
            self.table("executions"))
        return await self.fetch(query, [job_id])

    async def worker(self, worker_id: str) -> Row | None:
        query = sql.SQL("SELECT * FROM {} WHERE worker_id = %s").format(self.table("workers"))
        return await self.fetch_one(query, [worker_id])

    async def active_workers_serving(self, queue: str) -> list[Row]:
        """What placement needs of each active worker that serves ``queue``."""
        query = sql.SQL("SELECT worker_id, queues, cpu, memory_mb, labels FROM {} WHERE status = %s AND queues ? %s"
                        ).format(self.table("workers"))
        return await self.fetch(query, [WorkerStatus.ACTIVE.value, queue])

    async def in_flight(self, namespace: str) -> int:
        """The namespace's jobs assigned or running, from ``job_counts`` (kept by triggers)."""
        query = sql.SQL("SELECT coalesce(sum(n), 0) AS n FROM {} WHERE namespace = %s AND status = ANY(%s)"
                        ).format(self.table("job_counts"))
        row = await self.fetch_one(query, [namespace, [Status.ASSIGNED.value, Status.RUNNING.value]])
        return int(row["n"]) if row else 0

    # ------------------------------------------------------------------ logs (the logs projector's table)
    async def log_chunks(self, execution_id: str, after_seq: int, limit: int) -> list[Row]:
        """An execution's chunks after ``after_seq``, in order; none while the table does not exist yet."""
        query = sql.SQL("SELECT {} FROM {} WHERE execution_id = %s AND seq > %s ORDER BY seq LIMIT %s").format(
            sql.SQL(", ").join(map(sql.Identifier, LOG_CHUNK_COLUMNS)), self.table("execution_logs"))
        try:
            return await self.fetch(query, [execution_id, after_seq, limit])
        except psycopg.errors.UndefinedTable:
            return []  # the logs projector has not created its table yet: no logs so far

    async def has_eof(self, execution_id: str, through_seq: int) -> bool:
        """Whether the execution's end-of-output marker is at or before ``through_seq``: a reader who
        read that far has read everything. (An eof past it may have been projected since the reader's
        chunks were read: that reader has not seen the chunks before it yet.)"""
        query = sql.SQL("SELECT 1 AS found FROM {} WHERE execution_id = %s AND eof AND seq <= %s LIMIT 1").format(
            self.table("execution_logs"))
        try:
            return await self.fetch_one(query, [execution_id, through_seq]) is not None
        except psycopg.errors.UndefinedTable:
            return False

"""The dashboard's reads of the Postgres read model that the JSON API does not make (overview
counts, a name-prefix filter); every statement is a named method here, the pages hold no SQL.
Each reads one namespace only: the viewer's."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql

from jobstream.api.store import Between, Contains, Filter, ReadModel, Row, StartsWith
from jobstream.core.lifecycle import Status
from jobstream.projections.rows import WorkerStatus

# A schedule's own events that its page lists as its history.
SCHEDULE_EVENTS = ("ScheduleFired", "ScheduleSkipped", "ScheduleEnded")


@dataclass(frozen=True)
class JobFilters:
    """The jobs list's filters, as they stand in the page's URL."""

    status: str | None = None
    queue: str | None = None
    name_prefix: str | None = None
    priority: int | None = None
    label: dict[str, str] = field(default_factory=dict)
    since: datetime | None = None  # submitted at or after
    until: datetime | None = None  # submitted before

    def filter(self) -> Filter:
        """These filters as the read model's ``Filter`` (of any namespace)."""
        return Filter({"status": self.status or None, "queue": self.queue or None, "priority": self.priority,
                       "labels": Contains(self.label), "submitted_at": Between(self.since, self.until),
                       "name": StartsWith(self.name_prefix) if self.name_prefix else None})

    def clauses(self, namespace: str) -> tuple[list[sql.Composable], list[Any]]:
        return Filter({"namespace": namespace, **self.filter().values}).clauses()


@dataclass(frozen=True)
class Overview:
    jobs_by_status: dict[str, int]
    queues: list[Row]  # queue, waiting, oldest_queued_at
    workers_by_status: dict[str, int]
    dead_letters: int


class DashboardQueries:
    def __init__(self, store: ReadModel, namespace: str) -> None:
        self.store, self.namespace = store, namespace

    async def jobs(self, filters: JobFilters, limit: int, after: tuple[str, str] | None) -> list[Row]:
        """Up to ``limit + 1`` jobs, the last submitted first, after the key ``(submitted_at, job_id)``
        (the keyset of ``GET /v1/jobs``)."""
        return await self.store.jobs_by_submission(Filter({"namespace": self.namespace, **filters.filter().values}),
                                                   limit, after)

    async def overview(self) -> Overview:
        """Counts from ``job_counts`` (kept by triggers on ``jobs``), not a scan of a million jobs."""
        counts, ns = self.store.table("job_counts"), self.namespace
        by_status = await self.store.fetch(sql.SQL(
            "SELECT status, sum(n) AS n FROM {} WHERE namespace = %s AND status <> '' GROUP BY status").format(counts),
            [ns])
        # A queue's oldest waiting job by the partial index jobs_queued_idx (a job without a queue has none)
        queues = await self.store.fetch(sql.SQL(
            "SELECT NULLIF(c.queue, '') AS queue, c.n AS waiting, (SELECT min(j.queued_at) FROM {jobs} j"
            "   WHERE j.namespace = c.namespace AND j.status = %s AND j.queue = c.queue) AS oldest_queued_at"
            " FROM {counts} c WHERE c.namespace = %s AND c.status = %s AND c.n > 0 ORDER BY c.queue").format(
            jobs=self.store.table("jobs"), counts=counts), [Status.QUEUED.value, ns, Status.QUEUED.value])
        dead = await self.store.fetch_one(sql.SQL(
            "SELECT count(*) AS n FROM {} j WHERE j.status = %s AND j.namespace = %s AND EXISTS (SELECT 1 FROM {} e"
            " WHERE e.job_id = j.job_id AND e.type = 'JobDeadLettered')").format(
            self.store.table("jobs"), self.store.table("job_events")), [Status.FAILED.value, ns])
        return Overview(jobs_by_status={str(r["status"]): int(r["n"]) for r in by_status if r["n"]}, queues=queues,
                        workers_by_status=await self._workers_by_status(),
                        dead_letters=int(dead["n"]) if dead else 0)

    async def finished_per_minute(self, since: datetime) -> list[tuple[datetime, int, int]]:
        """Jobs completed and failed in each minute since ``since``."""
        rows = await self.store.fetch(sql.SQL(
            "SELECT date_trunc('minute', finished_at) AS minute, count(*) FILTER (WHERE status = %s) AS completed,"
            " count(*) FILTER (WHERE status = %s) AS failed FROM {} WHERE finished_at >= %s AND namespace = %s"
            " GROUP BY 1").format(self.store.table("jobs")),
            [Status.COMPLETED.value, Status.FAILED.value, since, self.namespace])
        return [(r["minute"], int(r["completed"]), int(r["failed"])) for r in rows]

    async def _workers_by_status(self) -> dict[str, int]:
        query = sql.SQL("SELECT status, count(*) AS n FROM {} WHERE namespace = %s GROUP BY status").format(
            self.store.table("workers"))
        try:
            rows = await self.store.fetch(query, [self.namespace])
        except psycopg.errors.UndefinedTable:
            rows = []
        counts = {status.value: 0 for status in WorkerStatus}
        counts.update({str(r["status"]): int(r["n"]) for r in rows})
        return counts

    async def neighbours(self, job: Row) -> tuple[list[Row], list[Row]]:
        """The job's upstreams (its spec's ``depends_on``) and downstreams (the dependents its
        ``DependentRegistered`` events name), each row with job_id, name and status; an upstream
        not in the read model (yet) has only its id."""
        upstream_ids = [str(d.get("job_id")) for d in (job.get("spec") or {}).get("depends_on") or []][:50]
        downstream = await self.store.fetch(sql.SQL(
            "SELECT DISTINCT payload->>'dependent_job_id' AS job_id FROM {} WHERE job_id = %s"
            " AND type = 'DependentRegistered' LIMIT 50").format(self.store.table("job_events")), [job["job_id"]])
        # A neighbour of another namespace (an id it named) is shown as unknown: its existence is not revealed
        downstream_ids = sorted(str(r["job_id"]) for r in downstream)
        rows = await self.store.fetch(sql.SQL(
            "SELECT job_id, name, status FROM {} WHERE job_id = ANY(%s) AND namespace = %s").format(
            self.store.table("jobs")), [upstream_ids + downstream_ids, self.namespace])
        known = {r["job_id"]: r for r in rows}
        return ([known.get(i, {"job_id": i, "name": None, "status": "not submitted"}) for i in upstream_ids],
                [known.get(i, {"job_id": i, "name": None, "status": None}) for i in downstream_ids])

    async def schedule_history(self, job_id: str, limit: int = 50) -> list[Row]:
        """A schedule's latest fires, skips and end, newest first, from its own events; a fire with
        its run's status (the run's row, when it is in the read model)."""
        query = sql.SQL(
            "SELECT e.seq, e.type, e.occurred_at, e.payload, (e.payload->>'due_at')::timestamptz AS due_at,"
            " r.status AS run_status FROM {events} e"
            " LEFT JOIN {jobs} r ON r.job_id = e.payload->>'run_job_id' AND r.namespace = %s"
            " WHERE e.job_id = %s AND e.type = ANY(%s) ORDER BY e.seq DESC LIMIT %s").format(
            events=self.store.table("job_events"), jobs=self.store.table("jobs"))
        return await self.store.fetch(query, [self.namespace, job_id, list(SCHEDULE_EVENTS), limit])

    async def schedules(self, limit: int, after: tuple[str, str] | None) -> list[Row]:
        """Up to ``limit + 1`` jobs with a schedule (not their runs) by name, after the key ``(name, job_id)``,
        each with its last run's status and end (indexes jobs_schedules_idx and jobs_parent_submitted_idx)."""
        query = sql.SQL(
            "SELECT j.*, last.status AS last_status, last.finished_at AS last_finished_at FROM {jobs} j"
            " LEFT JOIN LATERAL (SELECT r.status, r.finished_at FROM {jobs} r WHERE r.parent_job_id = j.job_id"
            "   ORDER BY COALESCE(r.submitted_at, '-infinity'::timestamptz) DESC, r.job_id DESC LIMIT 1) last ON true"
            " WHERE j.parent_job_id IS NULL AND jsonb_typeof(j.spec->'schedule') = 'object' AND j.namespace = %s{after}"
            " ORDER BY j.name, j.job_id LIMIT %s").format(
            jobs=self.store.table("jobs"), after=sql.SQL(" AND (j.name, j.job_id) > (%s, %s)" if after else ""))
        return await self.store.fetch(query, [self.namespace, *(after or ()), limit + 1])

    async def workers(self) -> list[Row]:
        query = sql.SQL("SELECT * FROM {} WHERE namespace = %s ORDER BY status, worker_id LIMIT 500").format(
            self.store.table("workers"))
        try:
            return await self.store.fetch(query, [self.namespace])
        except psycopg.errors.UndefinedTable:
            return []

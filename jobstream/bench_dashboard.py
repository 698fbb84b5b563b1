"""`jobstream bench dashboard`: server time of the dashboard's list and overview pages and of
``GET /v1/jobs`` over a read model of N jobs (``bench_dashboard_data``).

Postgres is a private cluster on a free port in a temporary directory, removed at the end (or an
existing server, ``database_url``: a schema of its own is made there and dropped). The rows are
loaded with only the tables' keys, the pages timed so (the baseline), then the read model's own
indexes are created (``ensure_schema``, as every process does at start) and the pages timed again.
Each page is asked of the real app in-process (ASGI, no network, credentials off), once to warm
up, then ``repeat`` times: p50, p95 and max milliseconds per route.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import psycopg
from fastapi import FastAPI

from jobstream.api import create_app
from jobstream.bench import percentiles
from jobstream.bench_dashboard_data import load
from jobstream.bench_run import say
from jobstream.config import Settings
from jobstream.infra.postgres import LocalPostgres
from jobstream.infra.process import free_port
from jobstream.projections.schema import connect, drop_schema, ensure_schema
from jobstream.ui.consumer_lag import ConsumerLag, GroupLag

TARGET_MS = 150.0
SLOW_MS = 2000.0  # a route this slow is timed once (the baseline's scans of a million rows)
BASELINE_TIMEOUT = "30s"  # a statement longer than this fails the route in the baseline (statement_timeout)


@contextmanager
def private_postgres() -> Iterator[str]:
    """A throwaway cluster on a free port (never the one `jobstream run` uses); its DSN."""
    home = Path(tempfile.mkdtemp(prefix="jobstream-bench-dashboard-"))
    home.chmod(0o755)  # Postgres runs as its own user when we are root
    postgres = LocalPostgres(home / "postgres", free_port(), fast_and_unsafe=True)
    try:
        say(postgres.up())
        yield postgres.dsn
    finally:
        postgres.down()
        shutil.rmtree(home, ignore_errors=True)


def run_dashboard_bench(jobs: int, repeat: int = 5, database_url: str | None = None,
                        baseline: bool = True) -> dict[str, Any]:
    """Load ``jobs`` jobs and time the pages, keys only (when ``baseline``) and then indexed."""
    if database_url is not None:
        return _run(database_url, jobs, repeat, baseline)
    with private_postgres() as dsn:
        return _run(dsn, jobs, repeat, baseline)


def _run(database_url: str, jobs: int, repeat: int, baseline: bool) -> dict[str, Any]:
    schema = f"bench_dashboard_{uuid.uuid4().hex[:8]}"
    now = datetime.now(UTC)
    with connect(database_url, schema) as conn:
        try:
            ensure_schema(conn, schema)
            dropped = _drop_secondary_indexes(conn)
            say(f"loading {jobs} jobs into schema {schema} (keys only; {len(dropped)} indexes dropped)")
            started = time.perf_counter()
            loaded = load(conn, jobs, now)
            load_s = time.perf_counter() - started
            _analyze(conn)
            result: dict[str, Any] = {"jobs": jobs, "rows": {**asdict(loaded), **_table_rows(conn)},
                                      "load_s": round(load_s, 1), "repeat": repeat, "target_ms": TARGET_MS}
            routes = _routes(conn, now)
            if baseline:
                say("timing the pages with the tables' keys only")
                result["keys_only"] = _time_routes(_with_timeout(database_url), schema, routes, repeat)
            say("creating the read model's indexes")
            started = time.perf_counter()
            ensure_schema(conn, schema)
            _analyze(conn)
            result["index_s"] = round(time.perf_counter() - started, 1)
            say("timing the pages with the read model's indexes")
            result["indexed"] = _time_routes(database_url, schema, routes, repeat)
            result["over_target"] = sorted(r for r, t in result["indexed"].items()
                                           if t.get("p95", float("inf")) > TARGET_MS)
            result["table_mb"] = _sizes(conn)
            result["load_average_1m"] = round(os.getloadavg()[0], 2)
            return result
        finally:
            drop_schema(conn, schema)


def _with_timeout(database_url: str) -> str:
    """The DSN with statement_timeout set: without indexes, one page may scan a million rows per row it lists."""
    options = quote(f"-c statement_timeout={BASELINE_TIMEOUT}")
    return f"{database_url}{'&' if '?' in database_url else '?'}options={options}"


def _drop_secondary_indexes(conn: psycopg.Connection[Any]) -> list[str]:
    """Drop every index of the schema but those of primary keys and unique constraints."""
    names = [row[0] for row in conn.execute(
        "SELECT i.relname FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid"
        " JOIN pg_namespace n ON n.oid = i.relnamespace"
        " WHERE n.nspname = current_schema() AND NOT x.indisprimary AND NOT x.indisunique").fetchall()]
    for name in names:
        conn.execute(f'DROP INDEX "{name}"')  # type: ignore[arg-type]
    return names


def _analyze(conn: psycopg.Connection[Any]) -> None:
    """Statistics and the visibility map, as autovacuum would have them on a settled table."""
    for table in ("jobs", "executions", "job_events"):
        conn.execute(f"VACUUM (ANALYZE) {table}")  # type: ignore[arg-type]


def _table_rows(conn: psycopg.Connection[Any]) -> dict[str, int]:
    row = conn.execute("SELECT (SELECT count(*) FROM jobs), (SELECT count(*) FROM jobs WHERE namespace = 'default'),"
                       " (SELECT count(*) FROM executions), (SELECT count(*) FROM job_events)").fetchone()
    assert row is not None
    return {"jobs_in_table": row[0], "jobs_in_default_namespace": row[1], "executions_in_table": row[2],
            "events_in_table": row[3]}


def _sizes(conn: psycopg.Connection[Any]) -> dict[str, float]:
    rows = conn.execute("SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c"
                        " JOIN pg_namespace n ON n.oid = c.relnamespace"
                        " WHERE n.nspname = current_schema() AND c.relkind = 'r'").fetchall()
    return {name: round(size / 2**20, 1) for name, size in sorted(rows) if size > 2**20}


def _routes(conn: psycopg.Connection[Any], now: datetime) -> dict[str, str]:
    """What an operator asks, by a short name: the pages and the API's list with each common filter."""
    some_id = conn.execute("SELECT job_id FROM jobs WHERE namespace = 'default' AND status = 'failed'"
                           " ORDER BY job_id LIMIT 1").fetchone()
    job_id = quote(some_id[0] if some_id else "none", safe="")
    since, until = (now - timedelta(days=20)).isoformat(), (now - timedelta(days=19)).isoformat()
    window = f"since={quote(since[:16])}&until={quote(until[:16])}"
    api_window = f"submitted_since={quote(since)}&submitted_until={quote(until)}"
    pages = {"overview": "/ui", "jobs": "/ui/jobs", "jobs_status": "/ui/jobs?status=failed",
             "jobs_status_rare": "/ui/jobs?status=paused", "jobs_queue": "/ui/jobs?queue=gpu",
             "jobs_name_prefix": "/ui/jobs?name=invoice-", "jobs_label": "/ui/jobs?label=team%3Dml",
             "jobs_label_rare": "/ui/jobs?label=env%3Dstaging", "jobs_priority": "/ui/jobs?priority=9",
             "jobs_time_range": f"/ui/jobs?{window}", "jobs_status_queue": "/ui/jobs?status=failed&queue=billing",
             "jobs_id_search": f"/ui/jobs?id={job_id}", "dead_letters": "/ui/dead-letters",
             "schedules": "/ui/schedules", "workers": "/ui/workers"}
    api = {"api_jobs": "/v1/jobs", "api_jobs_status": "/v1/jobs?status=failed", "api_jobs_queue": "/v1/jobs?queue=gpu",
           "api_jobs_name": "/v1/jobs?name=invoice-users", "api_jobs_label": "/v1/jobs?label=team%3Dml",
           "api_jobs_priority": "/v1/jobs?priority=9", "api_jobs_time_range": f"/v1/jobs?{api_window}",
           "api_job_by_id": f"/v1/jobs/{job_id}", "api_dlq": "/v1/dlq"}
    return pages | api


def _time_routes(database_url: str, schema: str, routes: dict[str, str], repeat: int) -> dict[str, dict[str, Any]]:
    return asyncio.run(_timed(bench_app(database_url, schema), routes, repeat))


def bench_app(database_url: str, schema: str) -> FastAPI:
    """The API and dashboard over ``schema``, credentials off; no broker (the overview's consumer lag
    says unknown at once, as when the broker is away)."""
    settings = Settings.from_env().with_(external_database_url=database_url, external_kafka="127.0.0.1:9")
    app = create_app(settings, schema=schema, no_auth=True)
    app.state.consumer_lag = ConsumerLag("", {}, reader=lambda groups: [GroupLag(n, g, None) for n, g in
                                                                        groups.items()])
    return app


async def _timed(app: FastAPI, routes: dict[str, str], repeat: int) -> dict[str, dict[str, Any]]:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            routes = {**routes, **await _second_pages(client)}
            return {name: await _time_one(client, url, repeat) for name, url in routes.items()}


async def _second_pages(client: httpx.AsyncClient) -> dict[str, str]:
    """Page 2 of the jobs list and of the API's, by the cursor page 1 gives."""
    found = re.search(r'<a href="([^"]+)" rel="next">', (await client.get("/ui/jobs")).text)
    cursor = (await client.get("/v1/jobs")).json().get("next_cursor")
    return {**({"jobs_page_2": found.group(1).replace("&amp;", "&")} if found else {}),
            **({"api_jobs_page_2": f"/v1/jobs?cursor={cursor}"} if cursor else {})}


async def _time_one(client: httpx.AsyncClient, url: str, repeat: int) -> dict[str, Any]:
    """One request to warm up (connections, statements, templates), then ``repeat`` timed ones; a
    route slower than ``SLOW_MS`` is timed once more only, one that fails not at all."""
    started = time.perf_counter()
    answer = await client.get(url)
    first_ms = (time.perf_counter() - started) * 1000
    if answer.status_code not in (200, 303):
        return {"status": answer.status_code, "ms": round(first_ms, 2), "detail": answer.text[:200]}
    ms = []
    for _ in range(repeat if first_ms < SLOW_MS else 1):
        started = time.perf_counter()
        await client.get(url)
        ms.append((time.perf_counter() - started) * 1000)
    figures = percentiles(ms)
    return {"p50": figures["p50"], "p95": _p95(ms), "max": figures["max"], "status": answer.status_code,
            "bytes": len(answer.content)}


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return round(ordered[min(int(0.95 * len(ordered)), len(ordered) - 1)], 2)


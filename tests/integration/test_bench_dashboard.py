"""`jobstream bench dashboard`'s loader and timing, at a small N on the session's Postgres: the rows
are loaded, every route answered and was timed, and the bench's schema is gone afterwards. Its
figures are not asserted (a shared machine); docs/architecture.md has them at 1,000,000 jobs."""

from __future__ import annotations

import psycopg

from jobstream.bench_dashboard import run_dashboard_bench

FIGURES = {"p50", "p95", "max", "status", "bytes"}


def test_bench_loads_the_jobs_and_times_every_route(database_url: str) -> None:
    result = run_dashboard_bench(2000, repeat=2, database_url=database_url)

    rows = result["rows"]
    assert rows["jobs"] == rows["jobs_in_table"] == 2000
    assert 0 < rows["jobs_in_default_namespace"] < 2000  # a tenth in another namespace
    assert rows["executions_in_table"] >= rows["executions"] > 0 and rows["dead_letters"] > 0
    assert rows["schedules"] == 300
    for phase in ("keys_only", "indexed"):
        timed = result[phase]
        assert {"overview", "jobs", "jobs_label", "jobs_time_range", "jobs_page_2", "api_jobs",
                "api_jobs_page_2", "schedules", "dead_letters"} <= set(timed), phase
        for route, figures in timed.items():
            assert set(figures) == FIGURES, route
            assert 0 < figures["p50"] <= figures["p95"] <= figures["max"], route
            assert figures["status"] == (303 if route == "jobs_id_search" else 200), route
    assert result["load_s"] >= 0 and result["index_s"] >= 0
    assert isinstance(result["over_target"], list)
    with psycopg.connect(database_url) as conn:
        left = conn.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'bench_dashboard_%'").fetchall()
    assert left == []

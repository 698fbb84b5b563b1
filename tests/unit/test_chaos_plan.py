"""The chaos bench's plan: its workload's mix and its kill schedule, seeded and pure."""

from __future__ import annotations

from collections import Counter

from jobstream.chaos_plan import kill_schedule, kind_of, workload
from jobstream.schemas import PythonTask, ShellTask

TARGETS = ["state-processor-1", "dispatcher-2", "worker-1", "worker-2", "broker-1", "broker-2", "postgres"]


def test_even_a_short_run_kills_one_of_each_kind_first_then_at_random() -> None:
    schedule = kill_schedule(TARGETS, duration_s=60, every_s=5, seed=3)
    assert [k.at_s for k in schedule] == [5.0 * n for n in range(1, 12)]
    assert {kind_of(k.target) for k in schedule[:4]} == {"broker", "postgres", "worker", "processor"}
    assert all(k.target in TARGETS for k in schedule)
    assert schedule == kill_schedule(TARGETS, duration_s=60, every_s=5, seed=3)  # repeatable


def test_the_workload_mixes_a_cron_schedule_a_dag_shell_python_and_retried_jobs() -> None:
    planned = workload(500, duration_s=100, ledger="/tmp/ledger", new_id=[f"j{n}" for n in range(600)], seed=1)
    assert len(planned) == 500 and len({p.job_id for p in planned}) == 500
    assert planned[0].spec.schedule is not None and planned[0].spec.schedule.cron
    sink = planned[10]
    assert [d.job_id for d in sink.spec.depends_on] == [p.job_id for p in planned[2:10]]
    kinds = Counter("retried" if p.spec.retry else type(p.spec.task).__name__ for p in planned[11:])
    assert kinds["ShellTask"] > 150 and kinds["PythonTask"] > 150 and kinds["retried"] > 20
    assert all(isinstance(p.spec.task, ShellTask | PythonTask) for p in planned)
    assert planned[-1].at_s < 100 and [p.at_s for p in planned] == sorted(p.at_s for p in planned)

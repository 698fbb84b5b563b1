"""What `bench chaos` submits and what it kills when: pure, seeded, so a run can be repeated.

The workload mixes shell and Python jobs, jobs that fail their first attempt and are retried, a
DAG (one root, a fan of middles, one sink), and a cron schedule firing every 10 s (cancelled when
the load ends). Every task appends ``job_id execution_id`` to a ledger file each time it runs.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass

from jobstream.schemas import Dependency, JobSpec, PythonTask, RetryPolicy, Schedule, ShellTask

DAG_MIDDLES = 8
RECORD = 'echo "$JOBSTREAM_JOB_ID $JOBSTREAM_EXECUTION_ID" >> "$0"'
RETRY = RetryPolicy(max_attempts=3, initial_backoff_s=1.0, max_backoff_s=5.0)


@dataclass(frozen=True)
class Planned:
    """A job to submit ``at_s`` seconds into the load."""

    job_id: str
    spec: JobSpec
    at_s: float


def shell_job(ledger: str) -> JobSpec:
    return JobSpec(name="chaos-shell", task=ShellTask(argv=["sh", "-c", RECORD, ledger]))


PYTHON_MODULE = "jobstream.chaos_tasks"  # the Python jobs' code, which the workers must allow


def python_job(ledger: str, job_id: str) -> JobSpec:
    task = PythonTask(entrypoint=f"{PYTHON_MODULE}:record", args_json=json.dumps([ledger, job_id]),
                      isolation="inline")
    return JobSpec(name="chaos-python", task=task)


def retried_job(ledger: str) -> JobSpec:
    """Fails its first attempt (after recording it), succeeds on the retry."""
    fail_first = RECORD + '; [ "$JOBSTREAM_ATTEMPT" -gt 1 ]'
    return JobSpec(name="chaos-retried", task=ShellTask(argv=["sh", "-c", fail_first, ledger]), retry=RETRY)


def cron_job(ledger: str) -> JobSpec:
    return JobSpec(name="chaos-cron", task=ShellTask(argv=["sh", "-c", RECORD, ledger]),
                   schedule=Schedule(cron="*/10 * * * * *"))


def dag(ledger: str, ids: list[str]) -> list[JobSpec]:
    """``ids``: root, middles..., sink: each middle waits for the root, the sink for every middle."""
    root, *middles, sink = ids
    return ([shell_job(ledger)]
            + [JobSpec(name="chaos-dag-middle", task=ShellTask(argv=["sh", "-c", RECORD, ledger]),
                       depends_on=[Dependency(job_id=root)]) for _ in middles]
            + [JobSpec(name="chaos-dag-sink", task=ShellTask(argv=["sh", "-c", RECORD, ledger]),
                       depends_on=[Dependency(job_id=m) for m in middles])])


def workload(jobs: int, duration_s: float, ledger: str, new_id: list[str], seed: int) -> list[Planned]:
    """``jobs`` jobs spread evenly over ``duration_s``: the cron schedule and the DAG first, then
    shell, Python and retried jobs (45/45/10 %) in a seeded order. ``new_id``: the ids to use."""
    rng = random.Random(seed)
    ids = iter(new_id)
    planned = [Planned(next(ids), cron_job(ledger), 0.0)]
    dag_ids = [next(ids) for _ in range(DAG_MIDDLES + 2)]
    planned += [Planned(job_id, spec, 0.0) for job_id, spec in zip(dag_ids, dag(ledger, dag_ids), strict=True)]
    rest = max(jobs - len(planned), 0)
    for n in range(rest):
        job_id, roll = next(ids), rng.random()
        spec = shell_job(ledger) if roll < 0.45 else python_job(ledger, job_id) if roll < 0.9 else retried_job(ledger)
        planned.append(Planned(job_id, spec, duration_s * n / max(rest, 1)))
    return planned


@dataclass(frozen=True)
class Kill:
    at_s: float
    target: str  # a supervised process's name, "broker-<node>" or "postgres"


def kind_of(target: str) -> str:
    """broker, postgres, worker or processor."""
    return target.split("-")[0] if target.startswith(("broker-", "worker-")) or target == "postgres" else "processor"


def kill_schedule(targets: list[str], duration_s: float, every_s: float, seed: int) -> list[Kill]:
    """A kill every ``every_s`` seconds (the first after one interval) until ``duration_s``: one of
    each kind of target first (in a random order, so even a short run kills a broker node, Postgres,
    a worker and a processor), then any target at random."""
    rng = random.Random(seed)
    kinds = sorted({kind_of(t) for t in targets})
    rng.shuffle(kinds)
    firsts = [rng.choice([t for t in targets if kind_of(t) == kind]) for kind in kinds]
    times = [every_s * (n + 1) for n in range(int(duration_s // every_s)) if every_s * (n + 1) < duration_s]
    return [Kill(at, firsts[n] if n < len(firsts) else rng.choice(targets)) for n, at in enumerate(times)]

"""The read model of a busy installation, made up for ``bench dashboard``: N jobs of a realistic
mix (statuses, queues, names, labels, priorities, submitted over 30 days up to now), the recurring
schedules among them and their runs, dead letters, executions and the events the pages read,
written with COPY into an existing schema. Deterministic for a seed; no Kafka.

Rows are what the projector would write for such jobs, not folded from events: the bench times
reads, and a replay of a million lifecycles would take far longer than the reads it prepares.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg

from jobstream.core.ids import ENTROPY_BYTES, job_id_at
from jobstream.core.lifecycle import Status

DAYS = 30
OTHER_NAMESPACE = "team-b"  # a tenth of the jobs: the pages read one namespace only
# (family, queue, team): each family has VARIANTS names, e.g. etl-orders, etl-payments, ...
FAMILIES = (("etl", "etl", "data"), ("report", "reports", "analytics"), ("train", "gpu", "ml"),
            ("invoice", "billing", "billing"), ("email", "notify", "growth"), ("backup", "maintenance", "infra"),
            ("index", "search", "search"), ("sync", "default", "platform"))
VARIANTS = ("orders", "payments", "users", "events", "inventory", "sessions")
# Share of jobs in each status, by weight; the terminal ones spread over the 30 days, the others recent.
STATUS_WEIGHTS = {Status.COMPLETED: 820, Status.FAILED: 50, Status.CANCELLED: 30, Status.QUEUED: 40,
                  Status.RUNNING: 10, Status.ASSIGNED: 3, Status.SCHEDULED: 30, Status.PENDING: 12, Status.PAUSED: 5}
DEAD_LETTERED = 0.6  # of the failed jobs: their retries are exhausted
SCHEDULES = 300  # recurring jobs; a fifth of the completed and failed jobs are their runs
RECENT = timedelta(hours=2)  # how long ago the unfinished jobs were submitted, at most
# The job's last execution's status, by the job's status (an earlier try's is failed).
EXECUTION_STATUS = {Status.COMPLETED: "succeeded", Status.FAILED: "failed", Status.CANCELLED: "cancelled",
                    Status.RUNNING: "running", Status.ASSIGNED: "assigned"}


@dataclass(frozen=True)
class Kind:
    name: str
    queue: str
    labels: str  # JSON
    spec: dict[str, Any]


def kinds() -> list[Kind]:
    out = []
    for family, queue, team in FAMILIES:
        for variant in VARIANTS:
            name = f"{family}-{variant}"
            labels = {"team": team, "env": "prod" if variant != "sessions" else "staging"}
            spec = {"name": name, "queue": queue, "labels": labels, "timeout_s": 3600.0,
                    "task": {"kind": "ShellTask", "argv": ["python", "-m", f"pipelines.{family}", "--table", variant],
                             "env": {"LOG_LEVEL": "info"}, "cwd": "/srv/pipelines"},
                    "retry": {"max_attempts": 3, "initial_backoff_s": 2.0}}
            out.append(Kind(name, queue, json.dumps(labels), spec))
    return out


@dataclass
class Loaded:
    jobs: int = 0
    executions: int = 0
    events: int = 0
    schedules: int = 0
    dead_letters: int = 0


JOB_COLUMNS = ("job_id", "seq", "name", "queue", "priority", "status", "spec", "labels", "attempt", "tries",
               "execution_id", "worker_id", "exit_code", "last_error", "next_run_at", "submitted_at", "queued_at",
               "started_at", "finished_at", "updated_at", "parent_job_id", "runs", "namespace", "submitted_by")
EXECUTION_COLUMNS = ("execution_id", "job_id", "attempt", "worker_id", "status", "queued_at", "started_at",
                     "finished_at", "exit_code", "duration_ms")
EVENT_COLUMNS = ("event_id", "job_id", "seq", "type", "occurred_at", "actor", "payload", "namespace")


class Generator:
    """Rows for ``count`` jobs, the newest submitted at ``now``."""

    def __init__(self, count: int, now: datetime, seed: int = 7) -> None:
        self.count, self.now, self.rng = count, now, random.Random(seed)
        self.kinds = kinds()
        self.statuses, self.weights = list(STATUS_WEIGHTS), list(STATUS_WEIGHTS.values())
        self.schedules: list[tuple[str, Kind]] = []
        self.executions: list[tuple[Any, ...]] = []
        self.events: list[tuple[Any, ...]] = []
        self.loaded = Loaded()

    def job_id(self, at: datetime) -> str:
        return job_id_at(int(at.timestamp() * 1000), self.rng.randbytes(ENTROPY_BYTES))

    def jobs(self) -> Iterator[tuple[Any, ...]]:
        """The schedules first, then the other jobs; executions and events gather on the side."""
        for n in range(min(SCHEDULES, self.count)):
            yield self._schedule(n)
        for _ in range(self.count - len(self.schedules)):
            yield self._job()

    def _schedule(self, n: int) -> tuple[Any, ...]:
        kind = self.kinds[n % len(self.kinds)]
        submitted = self.now - timedelta(days=DAYS + 1, minutes=n)
        job_id = self.job_id(submitted)
        self.schedules.append((job_id, kind))
        spec = {**kind.spec, "name": f"{kind.name}-every-{n}", "schedule": {"cron": f"{n % 60} * * * *",
                                                                          "timezone": "UTC"}}
        self.loaded.schedules += 1
        return (job_id, 10, spec["name"], kind.queue, 5, Status.SCHEDULED.value, json.dumps(spec), kind.labels,
                0, 0, None, None, None, None, self.now + timedelta(minutes=n % 60), submitted, None, None, None,
                self.now, None, DAYS * 24, self._namespace(), "key:bench")

    def _namespace(self) -> str:
        return OTHER_NAMESPACE if self.rng.random() < 0.1 else "default"

    def _job(self) -> tuple[Any, ...]:
        rng = self.rng
        status = rng.choices(self.statuses, self.weights)[0]
        terminal = status in (Status.COMPLETED, Status.FAILED, Status.CANCELLED)
        age = rng.random() * (DAYS * 86400 if terminal else RECENT.total_seconds())
        submitted = self.now - timedelta(seconds=age)
        parent = rng.choice(self.schedules) if terminal and status != Status.CANCELLED and rng.random() < 0.2 else None
        kind = parent[1] if parent else self.kinds[min(int(rng.expovariate(0.08)), len(self.kinds) - 1)]
        job_id = self.job_id(submitted)
        priority = min(10, max(1, round(rng.gauss(5, 1.5))))
        attempt = 0 if status in (Status.PENDING, Status.SCHEDULED, Status.PAUSED) else (
            3 if status == Status.FAILED else 1 + (rng.random() < 0.05))
        queued = submitted + timedelta(milliseconds=rng.randint(1, 500)) if attempt else None
        started = queued + timedelta(milliseconds=rng.randint(5, 2000)) if queued and (
            terminal or status == Status.RUNNING) and status != Status.CANCELLED else None
        finished = (started or submitted) + timedelta(seconds=rng.expovariate(1 / 40)) if terminal else None
        execution_id = str(uuid.UUID(int=rng.getrandbits(128))) if attempt else None
        worker = f"worker-{rng.randint(1, 40)}" if started or status == Status.ASSIGNED else None
        exit_code = 0 if status == Status.COMPLETED else (1 if status == Status.FAILED else None)
        error = "exit code 1: Traceback (most recent call last): ... KeyError: 'region'" if exit_code else None
        namespace = self._namespace()
        seq = 2 + 3 * attempt + terminal
        for a in range(1, attempt):  # the tries before the last one failed
            self._execution(str(uuid.UUID(int=rng.getrandbits(128))), job_id, a, worker, "failed", queued, started,
                            finished, 1)
        if execution_id is not None:
            self._execution(execution_id, job_id, attempt, worker, EXECUTION_STATUS.get(status, "queued"), queued,
                            started, finished, exit_code)
        self._event(job_id, 1, "JobSubmitted", submitted, {"spec": {"name": kind.name}}, namespace)
        if status == Status.FAILED and rng.random() < DEAD_LETTERED:
            self._event(job_id, seq + 1, "JobDeadLettered", finished or submitted, {"attempt": attempt}, namespace)
            seq += 1
            self.loaded.dead_letters += 1
        return (job_id, seq, kind.name, kind.queue, priority, status.value, json.dumps(kind.spec), kind.labels,
                attempt, attempt, execution_id, worker, exit_code, error, None, submitted, queued, started, finished,
                finished or started or queued or submitted, parent[0] if parent else None, 0, namespace, "key:bench")

    def _execution(self, execution_id: str, job_id: str, attempt: int, worker: str | None, status: str,
                   queued: datetime | None, started: datetime | None, finished: datetime | None,
                   exit_code: int | None) -> None:
        duration = int((finished - started).total_seconds() * 1000) if finished and started else None
        self.executions.append((execution_id, job_id, attempt, worker, status, queued, started, finished,
                                exit_code, duration))

    def _event(self, job_id: str, seq: int, kind: str, at: datetime, payload: dict[str, Any], namespace: str) -> None:
        self.events.append((f"{job_id}-{seq}", job_id, seq, kind, at, "key:bench", json.dumps(payload), namespace))


def load(conn: psycopg.Connection[Any], count: int, now: datetime, seed: int = 7) -> Loaded:
    """COPY ``count`` jobs, their executions and events into the connection's schema (search_path)."""
    generator = Generator(count, now, seed)
    _copy(conn, "jobs", JOB_COLUMNS, generator.jobs())
    _copy(conn, "executions", EXECUTION_COLUMNS, iter(generator.executions))
    _copy(conn, "job_events", EVENT_COLUMNS, iter(generator.events))
    loaded = generator.loaded
    loaded.jobs, loaded.executions, loaded.events = count, len(generator.executions), len(generator.events)
    return loaded


def _copy(conn: psycopg.Connection[Any], table: str, columns: tuple[str, ...], rows: Iterator[tuple[Any, ...]]) -> None:
    statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
    with conn.cursor() as cursor, cursor.copy(statement) as copy:  # type: ignore[arg-type]
        for row in rows:
            copy.write_row(row)

"""Benchmark (not a test): how fast the projector turns job events into Postgres rows.

Produces ``n`` events (whole job lifecycles decided by the core) to topics of a private prefix,
then times a projector catching up into a private schema; both are removed afterwards.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from confluent_kafka.admin import AdminClient

from jobstream.config import Settings
from jobstream.core.decide import decide
from jobstream.core.state import JobState, evolve
from jobstream.infra.topics import Topics, ensure_topics
from jobstream.schemas import (
    AssignJob, Command, CommandEnvelope, JobEvent, JobSpec, Outcome, ReportFinished, ReportStarted, ShellTask,
    SubmitJob,
)
from jobstream.streams.kafka_io import Publisher

from .projector import Projector
from .schema import connect, drop_schema


def lifecycle(job_id: str, t0: datetime, worker_id: str = "w1") -> list[JobEvent]:
    """The five events of a job that is submitted, queued, assigned, started and completed."""
    state, events = JobState(job_id), []
    steps: list[tuple[type[Command], dict[str, Any]]] = [
        (SubmitJob, {"spec": JobSpec(name="bench", task=ShellTask(argv=["true"]), labels={"team": "bench"})}),
        (AssignJob, {"worker_id": worker_id}), (ReportStarted, {"worker_id": worker_id, "pid": 42}),
        (ReportFinished, {"worker_id": worker_id, "outcome": Outcome.SUCCEEDED, "exit_code": 0,
                          "stdout_tail": "ok", "duration_ms": 12}),
    ]
    for i, (cls, fields) in enumerate(steps):
        now = t0 + timedelta(milliseconds=i)
        if cls is not SubmitJob:
            fields = {"execution_id": state.execution_id, "attempt": state.attempt, **fields}
        envelope = CommandEnvelope(command_id=f"{job_id}-c{i}", job_id=job_id, type=cls.short_name(),
                                   issued_at=now, actor="bench")
        for event in decide(state, cls(envelope=envelope, **fields), now):
            state = evolve(state, event)
            events.append(event)
    return events


def bench_projector(settings: Settings, n: int = 20_000) -> dict[str, float]:
    """Produce about ``n`` job events, then time the projector catching up on them."""
    prefix = f"{settings.topic_prefix}-bench-{uuid.uuid4().hex[:8]}"
    bench = settings.with_(topic_prefix=prefix)
    topics = Topics(prefix)
    ensure_topics(bench.kafka_bootstrap, topics.specs(settings.partitions))
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    try:
        produced = _produce(bench, topics, n)
        with Projector(bench, schema, group_id=f"{prefix}.bench", manual=True) as projector:
            started = time.perf_counter()
            counts = projector.run_until_caught_up(timeout_s=600)
            seconds = time.perf_counter() - started
        return {"events": produced, "applied": counts.applied, "seconds": round(seconds, 3),
                "events_per_s": round(counts.applied / seconds)}
    finally:
        with connect(bench.database_url, schema) as conn:
            drop_schema(conn, schema)
        AdminClient({"bootstrap.servers": bench.kafka_bootstrap}).delete_topics([s.name for s in topics.specs(1)])


def _produce(settings: Settings, topics: Topics, n: int) -> int:
    publisher = Publisher(settings, **{"linger.ms": 20})
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    produced = 0
    for j in range(max(1, n // 5)):
        for event in lifecycle(f"bench-{j:06d}", t0 + timedelta(seconds=j)):
            publisher.publish(topics.events, event.envelope.job_id, event)
            produced += 1
        publisher.poll(0)
    publisher.flush(60)
    publisher.producer.close()
    return produced

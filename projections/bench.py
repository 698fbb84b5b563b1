"""Benchmark (not a test): how fast the projector turns job events into Postgres rows on replay.

Produces the five events of each of ``jobs`` whole job lifecycles (decided by the core, encoded by
the real codec) to the events topic of a run of its own (``bench_run``), then times a projector
replaying them from offset 0 into a fresh schema until every partition's offset is committed to
Postgres. The broker's raw produce rate, measured in the same run, is printed beside it as the
baseline, with the projector's CPU per event (steadier than wall time on a shared machine). The
schema, topics and groups are removed afterwards.
"""

from __future__ import annotations

import cProfile
import os
import pstats
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from jobstream.config import Settings
from jobstream.core.decide import decide
from jobstream.core.state import JobState, evolve
from jobstream.infra.topics import Topics
from jobstream.schemas import (
    AssignJob,
    Command,
    CommandEnvelope,
    JobEvent,
    JobSpec,
    Outcome,
    ReportFinished,
    ReportStarted,
    ShellTask,
    SubmitJob,
)
from jobstream.streams.kafka_io import Publisher

from .inflight import InFlight
from .projector import Counts, Projector
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


def bench_projector(settings: Settings, jobs: int = 20_000, profile: str | None = None,
                    keep: bool = False) -> dict[str, Any]:
    """Produce ``jobs`` lifecycles, then time the projector replaying them; ``profile`` names a file
    for the replay's cProfile stats. The run's topics go when it ends (``keep``: they stay)."""
    from jobstream.bench import raw_produce_rate  # the other benches' baseline, measured the same way
    from jobstream.bench_run import bench_run, say

    with bench_run(settings, "projector", keep) as run:
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        try:
            raw = raw_produce_rate(run.settings)
            say(f"producing {jobs} job lifecycles")
            produced = _produce(run.settings, Topics(run.prefix), jobs)
            say(f"replaying them into schema {schema}")
            counts, seconds, cpu = _replay(run.settings, schema, profile)
        finally:
            with connect(run.settings.database_url, schema) as conn:
                drop_schema(conn, schema)
    return {"jobs": jobs, "events": produced, "applied": counts.applied, "seconds": round(seconds, 3),
            "events_per_s": round(counts.applied / seconds),
            "projector_cpu_us_per_event": round(cpu * 1e6 / max(1, counts.applied), 1),
            "broker_raw_produce_msgs_per_s": raw["msgs_per_s"],
            "load_average_1m": round(os.getloadavg()[0], 2)}  # other work on the machine skews the figures


def _replay(settings: Settings, schema: str, profile: str | None) -> tuple[Counts, float, float]:
    """Replay into a fresh schema: (counts, wall seconds, this process's CPU seconds, every thread).
    The clocks start once the projector is connected and assigned."""
    group = f"{settings.topic_prefix}.replay"  # assigned, not subscribed: the group only names the consumer
    with Projector(settings, schema, group_id=group, manual=True, publish_poison=False) as projector:
        profilers = _start_profiling(projector) if profile else []
        started, cpu = time.perf_counter(), time.process_time()
        counts = projector.run_until_caught_up(timeout_s=600)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        if profile:
            _stop_profiling(projector, profilers, profile)
    return counts, seconds, cpu


def _start_profiling(projector: Projector) -> list[cProfile.Profile]:
    """A profiler on the consuming thread and one on the writer thread (cProfile sees one thread each)."""
    consuming, writing = cProfile.Profile(), cProfile.Profile()
    _on_writer_thread(projector, writing.enable)
    consuming.enable()
    return [consuming, writing]


def _on_writer_thread(projector: Projector, call: Callable[[], object]) -> None:
    writer = cast(InFlight[object], projector.writer)  # the writer's single thread, while no batch is in flight
    writer.start(call)
    writer.settle()


def _stop_profiling(projector: Projector, profilers: list[cProfile.Profile], path: str) -> None:
    consuming, writing = profilers
    consuming.disable()
    _on_writer_thread(projector, writing.disable)
    consuming.create_stats()
    writing.create_stats()
    stats = pstats.Stats(consuming)
    stats.add(writing)
    stats.dump_stats(path)
    stats.sort_stats("tottime").print_stats(30)


def _produce(settings: Settings, topics: Topics, jobs: int) -> int:
    publisher = Publisher(settings, **{"linger.ms": 20})
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    produced = 0
    for j in range(jobs):
        for event in lifecycle(f"bench-{j:06d}", t0 + timedelta(seconds=j)):
            publisher.publish(topics.events, event.envelope.job_id, event)
            produced += 1
        publisher.poll(0)
    publisher.flush(60)
    publisher.producer.close()
    return produced

"""What the job-path benches share: a minimal stack (state processor, dispatcher, workers) on a fresh
topic prefix, removed when the run ends (``jobstream.bench_run``); submitting no-op jobs through the
commands topic (what other services do); reading the events topic until every job has finished.
Latencies come from the events' own timestamps (one machine, one clock) and the client's send times.
The full-stack `bench e2e` is ``bench_e2e.py``.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import Consumer, KafkaError, Message, Producer

from jobstream.bench_run import bench_run, reader_group
from jobstream.clock import new_job_id
from jobstream.config import Settings
from jobstream.infra.topics import Topics, TopicSpec
from jobstream.progress import progress_bar
from jobstream.schemas import (
    JobAssigned,
    JobCompleted,
    JobFailed,
    JobQueued,
    JobSpec,
    JobStarted,
    ShellTask,
    SubmitJob,
    Task,
    make_codec,
)
from jobstream.streams.kafka_io import (
    BATCHED_FETCH,
    Publisher,
    command_envelope,
    consume_ready,
    consumer_config,
    ensure_specs,
    producer_config,
)

NOOP = ShellTask(argv=["true"])


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)
    pick = lambda q: ordered[min(int(q * len(ordered)), len(ordered) - 1)]  # noqa: E731
    return {"p50": round(pick(0.50), 2), "p90": round(pick(0.90), 2), "p99": round(pick(0.99), 2),
            "max": round(ordered[-1], 2), "mean": round(statistics.fmean(ordered), 2)}


def raw_produce_rate(settings: Settings, count: int = 100_000, size: int = 200) -> dict[str, float]:
    """The broker's baseline: acks=all produce of ``count`` messages of ``size`` bytes, one producer."""
    topic = f"{settings.topic_prefix}.bench-raw"
    ensure_specs(settings, [TopicSpec(topic, settings.partitions)])
    producer = Producer(producer_config(settings, **{"linger.ms": 5}))
    payload = os.urandom(size)
    started = time.perf_counter()
    for n in range(count):
        while True:
            try:
                producer.produce(topic, key=str(n).encode(), value=payload)
                break
            except BufferError:
                producer.poll(0.01)
        producer.poll(0)
    producer.flush(60)
    elapsed = time.perf_counter() - started
    return {"messages": count, "bytes": size, "msgs_per_s": round(count / elapsed)}


@dataclass
class JobTimes:
    sent: float = 0.0  # client clock, epoch seconds
    acked: float = 0.0
    queued: float = 0.0  # event clock, epoch seconds
    assigned: float = 0.0
    started: float = 0.0
    finished: float = 0.0


@dataclass
class E2EResult:
    jobs: dict[str, JobTimes] = field(default_factory=dict)
    submit_elapsed_s: float = 0.0
    failed: int = 0


def submit_jobs(publisher: Publisher, count: int, queue: str, result: E2EResult, rate: float | None = None,
                task: Task = NOOP) -> None:
    """Submit ``count`` jobs as fast as possible, or paced at ``rate`` jobs/s."""
    spec = JobSpec(name="noop", queue=queue, task=task)

    def acked(job_id: str):  # type: ignore[no-untyped-def]
        def callback(error: KafkaError | None, _message: Message) -> None:
            if error is None:
                result.jobs[job_id].acked = time.time()
        return callback

    started = time.perf_counter()
    for n in range(count):
        if rate:
            _pace(started + n / rate, publisher)
        job_id = new_job_id()
        result.jobs[job_id] = JobTimes(sent=time.time())
        publisher.send_command(SubmitJob(envelope=command_envelope(SubmitJob, job_id, "bench"), spec=spec),
                               on_delivery=acked(job_id))
        publisher.poll(0)
    publisher.flush(120)
    result.submit_elapsed_s = time.perf_counter() - started


def _pace(due: float, publisher: Publisher) -> None:
    """Wait until ``due`` (perf_counter), serving delivery callbacks meanwhile."""
    while (left := due - time.perf_counter()) > 0:
        publisher.poll(min(left, 0.001))


class Stall:
    """When a bench waiting for work to finish should give up: after ``timeout_s`` in which
    nothing finished. A slow kind (a child interpreter per job) that keeps finishing is no failure."""

    def __init__(self, timeout_s: float, remaining: int, now: float) -> None:
        self.timeout_s = timeout_s
        self.remaining = remaining
        self.due = now + timeout_s

    def reached(self, remaining: int, now: float) -> bool:
        if remaining < self.remaining:
            self.remaining, self.due = remaining, now + self.timeout_s
        return now > self.due


class EventWatch:
    """One consumer of the events topic for a whole bench run, from its start. ``batched`` lets
    the broker batch its fetches, as a reader that only counts (times come from the events) can:
    the stack's own readers then carry the load it measures, not the bench's."""

    def __init__(self, settings: Settings, batched: bool = False) -> None:
        self.codec = make_codec(settings.schema_registry_url)
        fetch = BATCHED_FETCH if batched else {}
        self.consumer = Consumer(consumer_config(settings, reader_group(settings, "events-reader"), **fetch))
        self.consumer.subscribe([Topics(settings.topic_prefix).events])

    def until_done(self, record: Callable[[Any, set[str]], None], remaining: set[str], timeout_s: float,
                   what: str = "jobs", alive: Callable[[], None] = lambda: None) -> None:
        """Fold events in with ``record(event, remaining)``, which removes what has finished,
        until nothing remains; TimeoutError once nothing has finished for ``timeout_s``. ``alive``
        raises if the stack can no longer finish (a process of it ended)."""
        stall = Stall(timeout_s, len(remaining), time.monotonic())
        while remaining:
            alive()
            if stall.reached(len(remaining), time.monotonic()):
                named = ", ".join(sorted(remaining)[:5])
                raise TimeoutError(f"{len(remaining)} {what} unfinished, none finished in the last {timeout_s}s: "
                                   f"{named}")
            for message in consume_ready(self.consumer, 5000, 0.05):
                if message.error() is None:
                    record(self.codec.decode(message.value(), topic=message.topic(), partition=message.partition(),
                                             offset=message.offset()), remaining)

    def close(self) -> None:
        self.consumer.close()


def await_completion(settings: Settings, result: E2EResult, timeout_s: float,
                     alive: Callable[[], None] = lambda: None) -> None:
    watch = EventWatch(settings, batched=True)
    total = len(result.jobs)

    def record(event: Any, remaining: set[str], update: Callable[[int, int | None], None]) -> None:
        _record(event, result, remaining)
        update(total - len(remaining), total)

    try:
        with progress_bar("jobs finished", "jobs", total) as update:
            watch.until_done(lambda event, remaining: record(event, remaining, update), set(result.jobs), timeout_s,
                             alive=alive)
    finally:
        watch.close()


def _record(event: Any, result: E2EResult, remaining: set[str]) -> None:
    times = result.jobs.get(event.envelope.job_id)
    if times is None:
        return
    at = event.envelope.occurred_at.timestamp()
    if isinstance(event, JobQueued):
        times.queued = at
    elif isinstance(event, JobAssigned):
        times.assigned = at
    elif isinstance(event, JobStarted):
        times.started = at
    elif isinstance(event, (JobCompleted, JobFailed)):
        times.finished = at
        result.failed += isinstance(event, JobFailed)
        remaining.discard(event.envelope.job_id)


def summarise(result: E2EResult, raw_msgs_per_s: float) -> dict[str, Any]:
    jobs = list(result.jobs.values())
    first_sent = min(t.sent for t in jobs)
    last_done = max(t.finished for t in jobs)
    ms = lambda a, b: (b - a) * 1000  # noqa: E731
    return {
        "jobs": len(jobs),
        "failed": result.failed,
        "broker_raw_produce_msgs_per_s": raw_msgs_per_s,
        "submit_rate_per_s": round(len(jobs) / result.submit_elapsed_s),
        "end_to_end_jobs_per_s": round(len(jobs) / (last_done - first_sent)),
        "latency_ms": {
            "submit_acknowledged": percentiles([ms(t.sent, t.acked) for t in jobs if t.acked]),
            "queued_to_running": percentiles([ms(t.queued, t.started) for t in jobs if t.started]),
            "queued_to_assigned": percentiles([ms(t.queued, t.assigned) for t in jobs if t.assigned]),
            "submitted_to_completed": percentiles([ms(t.sent, t.finished) for t in jobs]),
        },
    }


@dataclass(frozen=True)
class BenchStack:
    settings: Settings
    raw_produce_msgs_per_s: float
    publisher: Publisher  # one producer for the run: the warm-up also initialises it (~0.5 s)


@contextmanager
def bench_stack(base: Settings, kind: str, workers: int, slots: int, keep: bool = False) -> Iterator[BenchStack]:
    """A fresh topic prefix, the broker's raw produce rate on it (the run's baseline), a state
    processor, a dispatcher and workers, warmed up; every process stopped and the prefix's topics
    and groups deleted at the end, unless ``keep``."""
    with bench_run(base, kind, keep) as run:
        raw = raw_produce_rate(run.settings)
        for args in [["state-processor"], ["dispatcher"]] + [["worker", "--slots", str(slots)]] * workers:
            run.spawn(*args)
        publisher = Publisher(run.settings)
        warm_up(run.settings, publisher)
        yield BenchStack(run.settings, raw["msgs_per_s"], publisher)


def warm_up(settings: Settings, publisher: Publisher, alive: Callable[[], None] = lambda: None) -> None:
    """A few jobs through the whole path, so start-up is not measured."""
    result = E2EResult()
    submit_jobs(publisher, 20, "default", result)
    await_completion(settings, result, 120, alive)

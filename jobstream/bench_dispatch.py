"""`jobstream bench dispatch`: queued-to-running latency, on an idle system and at sustained rates.

Like `bench e2e`, it starts its own state processor, dispatcher and workers on a fresh topic
prefix and measures the broker's raw produce rate first, as the baseline of the same run. Then:

- idle: one no-op job (`true`) at a time, the next submitted once the previous completed;
- sustained: for each offered rate, N jobs paced at that rate, over several workers.

Queued-to-running is JobQueued -> JobStarted on the events topic (both stamped by the state
processor: one clock); queued-to-assigned is the dispatcher's share of it.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from confluent_kafka import Consumer

from jobstream.bench import (
    E2EResult, JobTimes, _record, _start, _warm_up, percentiles, raw_produce_rate, stop_all, submit_jobs,
)
from jobstream.config import Settings
from jobstream.core.ids import new_job_id
from jobstream.infra.topics import Topics, ensure_topics
from jobstream.schemas import JobSpec, ShellTask, SubmitJob, make_codec
from jobstream.streams.kafka_io import Publisher, command_envelope, consumer_config


class EventWatch:
    """One consumer of the events topic for the whole run, folding job times into results."""

    def __init__(self, settings: Settings) -> None:
        self.codec = make_codec(settings.schema_registry_url)
        self.consumer = Consumer(consumer_config(settings, f"bench-dispatch-{uuid.uuid4().hex[:8]}"))
        self.consumer.subscribe([Topics(settings.topic_prefix).events])

    def until_done(self, result: E2EResult, remaining: set[str], timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while remaining:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(remaining)} of {len(result.jobs)} jobs unfinished after {timeout_s}s")
            for message in self.consumer.consume(2000, 0.05):
                if message.error() is None:
                    event = self.codec.decode(message.value(), topic=message.topic(),
                                              partition=message.partition(), offset=message.offset())
                    _record(event, result, remaining)

    def close(self) -> None:
        self.consumer.close()


def latencies(result: E2EResult) -> dict[str, Any]:
    jobs = list(result.jobs.values())
    ms = lambda a, b: (b - a) * 1000  # noqa: E731
    return {
        "jobs": len(jobs),
        "failed": result.failed,
        "queued_to_running_ms": percentiles([ms(t.queued, t.started) for t in jobs if t.started and t.queued]),
        "queued_to_assigned_ms": percentiles([ms(t.queued, t.assigned) for t in jobs if t.assigned and t.queued]),
    }


def idle(publisher: Publisher, watch: EventWatch, jobs: int) -> dict[str, Any]:
    """One job at a time: each finds the whole system waiting for it."""
    spec = JobSpec(name="noop", queue="default", task=ShellTask(argv=["true"]))
    result = E2EResult()
    for _ in range(jobs):
        job_id = new_job_id()
        result.jobs[job_id] = JobTimes(sent=time.time())
        publisher.send_command(SubmitJob(envelope=command_envelope(SubmitJob, job_id, "bench"), spec=spec))
        publisher.flush(30)
        watch.until_done(result, {job_id}, 60)
        time.sleep(0.02)  # let credits settle: the next job should meet an idle system
    return latencies(result)


def sustained(publisher: Publisher, watch: EventWatch, jobs: int, rate: float) -> dict[str, Any]:
    result = E2EResult()
    submit_jobs(publisher, jobs, "default", result, rate)
    watch.until_done(result, set(result.jobs), timeout_s=max(120.0, 5 * jobs / rate))
    first_sent = min(t.sent for t in result.jobs.values())
    last_done = max(t.finished for t in result.jobs.values())
    return {"offered_rate_per_s": rate, "achieved_submit_rate_per_s": round(jobs / result.submit_elapsed_s),
            "completed_per_s": round(jobs / (last_done - first_sent)), **latencies(result)}


def run_dispatch_bench(base: Settings, idle_jobs: int, rates: list[float], jobs_per_rate: int, workers: int,
                       slots: int) -> dict[str, Any]:
    settings = base.with_(topic_prefix=f"bench-{uuid.uuid4().hex[:8]}")
    ensure_topics(settings.kafka_bootstrap, Topics(settings.topic_prefix).specs(settings.partitions))
    raw = raw_produce_rate(settings)
    processes = _start(settings, workers, slots)
    publisher = Publisher(settings)
    watch = EventWatch(settings)
    try:
        _warm_up(settings, publisher)
        report: dict[str, Any] = {"broker_raw_produce_msgs_per_s": raw["msgs_per_s"], "workers": workers,
                                  "slots_each": slots, "idle": idle(publisher, watch, idle_jobs)}
        report["sustained"] = [sustained(publisher, watch, jobs_per_rate, rate) for rate in rates]
        return report
    finally:
        watch.close()
        stop_all(processes)

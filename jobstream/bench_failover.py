"""`jobstream bench failover`: how long a killed worker's jobs wait before they are queued again.

On a fresh topic prefix it starts a state processor, a dispatcher and a worker monitor, then per
trial: a worker with N slots, N long jobs on a queue of that trial, kill -9 of the worker once all
run, and two figures from the topics (one machine, one clock): kill to WorkerLost, and kill to the
last of its jobs queued again (JobQueued of attempt 2). The target: at most 10 s. Where in the
heartbeat cycle the kill lands varies, so several trials show the spread. The prefix's topics and
groups are removed at the end (``jobstream.bench_run``).
"""

from __future__ import annotations

import os
import signal
import time
from typing import Any

from confluent_kafka import Consumer

from jobstream.bench import percentiles
from jobstream.bench_run import BenchRun, bench_run, reader_group
from jobstream.clock import new_job_id
from jobstream.config import Settings
from jobstream.core.liveness import DEFAULT_WINDOW_S, HEARTBEAT_S
from jobstream.infra.topics import Topics
from jobstream.schemas import JobQueued, JobSpec, JobStarted, ShellTask, SubmitJob, WorkerLost, make_codec
from jobstream.streams.kafka_io import Publisher, command_envelope, consumer_config

TARGET_S = 10.0


class Feed:
    """Decoded records of the events and workers topics, from the start, as they arrive."""

    def __init__(self, settings: Settings) -> None:
        topics = Topics(settings.topic_prefix)
        self.codec = make_codec(settings.schema_registry_url)
        self.consumer = Consumer(consumer_config(settings, reader_group(settings, "feed")))
        self.consumer.subscribe([topics.events, topics.workers])

    def until(self, done: Any, timeout_s: float, what: str) -> None:
        """Feed records to ``done`` until it returns True."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for message in self.consumer.consume(1000, 0.1):
                if message.error() is None and done(self.codec.decode(
                        message.value(), topic=message.topic(), partition=message.partition(),
                        offset=message.offset())):
                    return
        raise TimeoutError(f"timed out after {timeout_s}s waiting for {what}")

    def close(self) -> None:
        self.consumer.close()


def run_failover(base: Settings, jobs: int, trials: int, timeout_s: float = 120.0,
                 keep: bool = False) -> dict[str, Any]:
    with bench_run(base, "failover", keep) as run:
        for name in ("state-processor", "dispatcher", "worker-monitor"):
            run.spawn(name)
        publisher, feed = Publisher(run.settings), Feed(run.settings)
        try:
            results = [_trial(run, publisher, feed, f"failover-{trial}", jobs, timeout_s) for trial in range(trials)]
        finally:
            feed.close()
    return {
        "jobs_per_worker": jobs, "trials": len(results), "heartbeat_s": HEARTBEAT_S, "window_s": DEFAULT_WINDOW_S,
        "target_s": TARGET_S,
        "kill_to_lost_s": percentiles([r["lost_s"] for r in results]),
        "kill_to_all_requeued_s": percentiles([r["requeued_s"] for r in results]),
        "within_target": all(r["requeued_s"] <= TARGET_S for r in results),
    }


def _trial(run: BenchRun, publisher: Publisher, feed: Feed, queue: str, jobs: int,
           timeout_s: float) -> dict[str, float]:
    worker = run.spawn("worker", "--queue", queue, "--slots", str(jobs))
    spec = JobSpec(name="long", queue=queue, task=ShellTask(argv=["sleep", "600"]))
    job_ids = {new_job_id() for _ in range(jobs)}
    for job_id in job_ids:
        publisher.send_command(SubmitJob(envelope=command_envelope(SubmitJob, job_id, "bench"), spec=spec))
    publisher.flush(30)
    children: dict[str, int] = {}  # job_id -> pid of its process group, to clean up after
    lost_at: list[float] = []
    requeued: dict[str, float] = {}
    try:
        feed.until(lambda r: _started(r, job_ids, children), timeout_s, f"{jobs} jobs to start")
        killed_at = time.time()
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
        feed.until(lambda r: _after_kill(r, job_ids, lost_at, requeued), timeout_s, "the jobs to be queued again")
    finally:
        for pid in children.values():  # the killed worker's jobs run on in sessions of their own
            _kill_group(pid)
    return {"lost_s": lost_at[0] - killed_at, "requeued_s": max(requeued.values()) - killed_at}


def _started(record: Any, job_ids: set[str], children: dict[str, int]) -> bool:
    if isinstance(record, JobStarted) and record.envelope.job_id in job_ids and record.pid:
        children[record.envelope.job_id] = record.pid
    return len(children) == len(job_ids)


def _after_kill(record: Any, job_ids: set[str], lost_at: list[float], requeued: dict[str, float]) -> bool:
    if isinstance(record, WorkerLost) and not lost_at:
        lost_at.append(record.envelope.occurred_at.timestamp())
    if isinstance(record, JobQueued) and record.envelope.job_id in job_ids and record.attempt == 2:
        requeued[record.envelope.job_id] = record.envelope.occurred_at.timestamp()
    return bool(lost_at) and len(requeued) == len(job_ids)


def _kill_group(pid: int) -> None:
    """The killed worker's jobs run on in sessions of their own: stop them."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass

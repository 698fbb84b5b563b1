"""`jobstream bench timers`: fire lateness and memory of the timer processor with N schedules active.

It starts a state processor and a timer processor on a fresh topic prefix and submits N jobs on
a queue no worker serves. Recurring (the default): each runs every hour from a start_at spread
over a window that begins after the set-up, so each fires once in the window, submits its run,
and is armed again for an hour later: N schedules stay active throughout. ``--one-shot``: N
``at`` jobs instead. It reads the FireTimer commands the timer processor sends: lateness = the
command's issue time minus the timer's due time. Memory is the timer processor's resident set,
before the schedules arrive and with all of them pending. The prefix's topics and groups are
removed at the end (``jobstream.bench_run``).
"""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import psutil
from confluent_kafka import Consumer

from jobstream.bench import percentiles, raw_produce_rate
from jobstream.bench_run import bench_run, reader_group
from jobstream.clock import new_job_id
from jobstream.config import Settings
from jobstream.infra.topics import Topics
from jobstream.schemas import FireTimer, JobScheduled, JobSpec, Schedule, ShellTask, SubmitJob, make_codec
from jobstream.streams.kafka_io import Publisher, command_envelope, consume_ready, consumer_config


def rss_mb(pid: int) -> float:
    return float(psutil.Process(pid).memory_info().rss) / (1024 * 1024)


RECURRING_EVERY_S = 3600.0  # longer than any window: each schedule fires once while measured


def run_timers(base: Settings, count: int, window_s: float, timeout_s: float,
               recurring: bool = True, keep: bool = False) -> dict[str, Any]:
    with bench_run(base, "timers", keep) as run:
        settings = run.settings
        raw = raw_produce_rate(settings)
        run.spawn("state-processor")
        timer_pid = run.spawn("timer-processor").pid
        reader = _Reader(settings, Topics(settings.topic_prefix))
        try:
            reader.warm_up(settings)
            idle_rss = rss_mb(timer_pid)
            lead_s = 20 + count / 800  # submitting and arming must finish before the first is due
            first_due = datetime.now(UTC) + timedelta(seconds=lead_s)
            _submit(settings, count, first_due, window_s, recurring)
            reader.count_scheduled(count, timeout_s)
            time.sleep(max((first_due - datetime.now(UTC)).total_seconds() - 2, 0))  # let the timer processor catch up
            pending_rss = rss_mb(timer_pid)
            lateness = reader.collect_fires(count, timeout_s + window_s)
            peak_rss = max(pending_rss, rss_mb(timer_pid))
        finally:
            reader.close()
    return {
        "broker_raw_produce_msgs_per_s": raw["msgs_per_s"], "schedules": count,
        "kind": "recurring" if recurring else "one-shot", "window_s": window_s,
        "fired": len(lateness),
        "fire_lateness_ms": percentiles(lateness),
        "timer_processor_rss_mb": {"idle": round(idle_rss, 1), "with_all_pending": round(pending_rss, 1),
                                   "peak": round(peak_rss, 1)},
        "bytes_per_pending_timer": round((pending_rss - idle_rss) * 1024 * 1024 / count),
    }


def _submit(settings: Settings, count: int, first_due: datetime, window_s: float, recurring: bool) -> None:
    publisher = Publisher(settings)
    rng = random.Random(7)
    for _ in range(count):
        due = first_due + timedelta(seconds=rng.uniform(0, window_s))
        schedule = Schedule(every_s=RECURRING_EVERY_S, start_at=due) if recurring else Schedule(at=due)
        spec = JobSpec(name="timer", queue="bench-nobody", task=ShellTask(argv=["true"]), schedule=schedule)
        publisher.send_command(SubmitJob(envelope=command_envelope(SubmitJob, new_job_id(), "bench"), spec=spec))
        publisher.poll(0)
    publisher.flush(120)


class _Reader:
    """Reads JobScheduled events and FireTimer commands of the bench's topics."""

    def __init__(self, settings: Settings, topics: Topics) -> None:
        self.codec = make_codec(settings.schema_registry_url)
        self.topics = topics
        self.consumer = Consumer(consumer_config(settings, reader_group(settings)))
        self.consumer.subscribe([topics.events, topics.commands])
        self.scheduled = 0
        self.fires: dict[str, float] = {}

    def _poll(self) -> None:
        for message in consume_ready(self.consumer, 5000, 0.2):
            if message.error() is not None:
                continue
            record = self.codec.decode(message.value(), topic=message.topic(), partition=message.partition(),
                                       offset=message.offset())
            if isinstance(record, JobScheduled):
                self.scheduled += 1
            elif isinstance(record, FireTimer):
                late = (record.envelope.issued_at - record.due_at).total_seconds() * 1000
                self.fires.setdefault(record.timer_id, late)  # the first fire of a timer counts

    def warm_up(self, settings: Settings) -> None:
        """Both processors are up and consuming once a one-shot due 2 s after its submit has fired
        (one submitted before they run is queued at once, without a timer: so submit again)."""
        deadline = time.monotonic() + 120
        next_submit = 0.0
        while not self.fires and time.monotonic() < deadline:
            if time.monotonic() >= next_submit:
                _submit(settings, 1, datetime.now(UTC) + timedelta(seconds=2), 0.0, recurring=False)
                next_submit = time.monotonic() + 3
            self._poll()
        if not self.fires:
            raise TimeoutError("the warm-up timer did not fire within 120 s")
        self.fires.clear()
        self.scheduled = 0

    def count_scheduled(self, count: int, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while self.scheduled < count and time.monotonic() < deadline:
            self._poll()

    def collect_fires(self, count: int, timeout_s: float) -> list[float]:
        deadline = time.monotonic() + timeout_s
        while len(self.fires) < count and time.monotonic() < deadline:
            self._poll()
        return list(self.fires.values())

    def close(self) -> None:
        self.consumer.close()

"""Benchmark (not a test): read-your-writes through a live projector process.

Each job's five events are published at ``rate`` jobs/s (encoded beforehand, so the bench's own CPU
stays out of the way); a job's latency runs from its publication to the first NOTIFY naming it, the
moment its rows are visible (what the API waits for after a command). The projector runs as its own
process (``jobstream projector``), as in production.
"""

from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from confluent_kafka import Producer

from jobstream.config import Settings
from jobstream.infra.topics import Topics
from jobstream.schemas import make_codec
from jobstream.streams.kafka_io import producer_config

from .bench import lifecycle
from .schema import connect, drop_schema, notify_channel

READY_TIMEOUT_S = 60.0


def bench_read_your_writes(settings: Settings, rate: float, seconds: float, keep: bool = False) -> dict[str, Any]:
    """Latency percentiles (ms) from publishing a job's events to hearing its NOTIFY, at ``rate`` jobs/s."""
    from jobstream.bench import percentiles
    from jobstream.bench_run import bench_run, say

    with bench_run(settings, "projector-live", keep) as run:
        topics, schema = Topics(run.prefix), f"bench_{uuid.uuid4().hex[:8]}"
        jobs = _encoded_jobs(run.settings, topics, int(rate * seconds) + 1)
        listener = psycopg.connect(run.settings.database_url, autocommit=True)
        producer = Producer(producer_config(run.settings))
        try:
            listener.execute(f"LISTEN {notify_channel(schema)}")  # type: ignore[arg-type]
            run.spawn("projector", "--schema", schema)
            _wait_until_projecting(producer, listener, topics, *jobs.pop())
            say(f"publishing {len(jobs)} jobs at {rate:g} jobs/s")
            sent, heard = _publish_and_listen(producer, listener, topics, jobs, rate, seconds + 30)
        finally:
            producer.flush(10)
            listener.close()
            run.stop()  # the projector goes before its schema does
            with connect(run.settings.database_url, schema) as conn:
                drop_schema(conn, schema)
    latencies = [(heard[job_id] - at) * 1000 for job_id, at in sent.items() if job_id in heard]
    return {"jobs_per_s": rate, "jobs": len(sent), "visible": len(latencies),
            "publish_to_visible_ms": percentiles(latencies)}


def _encoded_jobs(settings: Settings, topics: Topics, count: int) -> list[tuple[str, list[bytes]]]:
    codec, t0 = make_codec(settings.schema_registry_url), datetime(2026, 1, 1, tzinfo=UTC)
    jobs = []
    for n in range(count):
        job_id = f"live-{n:07d}"
        jobs.append((job_id, [codec.encode(e, topics.events) for e in lifecycle(job_id, t0 + timedelta(seconds=n))]))
    return jobs


def _publish(producer: Producer, topics: Topics, job_id: str, values: list[bytes]) -> None:
    for value in values:
        producer.produce(topics.events, key=job_id.encode(), value=value)
    producer.poll(0)


def _wait_until_projecting(producer: Producer, listener: psycopg.Connection[Any], topics: Topics, job_id: str,
                           values: list[bytes]) -> None:
    """One job through the projector first: start-up (group join, schema) is not measured."""
    _publish(producer, topics, job_id, values)
    producer.flush(10)
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if any(note.payload == job_id for note in listener.notifies(timeout=1.0)):
            return
    raise TimeoutError(f"the projector made no job visible within {READY_TIMEOUT_S}s")


def _publish_and_listen(producer: Producer, listener: psycopg.Connection[Any], topics: Topics,
                        jobs: list[tuple[str, list[bytes]]], rate: float,
                        timeout_s: float) -> tuple[dict[str, float], dict[str, float]]:
    """Publish at the paced rate while a thread notes when each job is first heard of."""
    sent: dict[str, float] = {}
    heard: dict[str, float] = {}
    deadline = time.monotonic() + timeout_s

    def listen() -> None:
        while len(heard) < len(jobs) and time.monotonic() < deadline:
            for note in listener.notifies(timeout=0.5):
                heard.setdefault(note.payload, time.perf_counter())

    listening = threading.Thread(target=listen, name="bench-listener", daemon=True)
    listening.start()
    started = time.perf_counter()
    for n, (job_id, values) in enumerate(jobs):
        while (left := started + n / rate - time.perf_counter()) > 0:
            producer.poll(min(left, 0.0005))
        sent[job_id] = time.perf_counter()
        _publish(producer, topics, job_id, values)
    producer.flush(30)
    listening.join(max(0.0, deadline - time.monotonic()))
    return sent, heard

"""kill -9 of the dispatcher and of the worker monitor in the middle of their work: every output
on the topic exactly once (read_committed, as every consumer reads), nothing lost.

Both run on the exactly-once engine: a batch's outputs, its store changes and its input offsets
commit together, so what a killed process sent is either committed (and its input consumed) or
never seen."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

from jobstream.clock import utcnow
from jobstream.config import Settings
from jobstream.infra.topics import Topics
from jobstream.schemas import (
    Assignment,
    ExpireExecution,
    JobReady,
    JobSpec,
    ShellTask,
    WorkerCredit,
    WorkerEnvelope,
    WorkerHeartbeat,
    WorkerLost,
    WorkerRegistered,
)
from jobstream.streams.kafka_io import Publisher
from tests.integration.harness import ServiceProcess, TopicReader

QUEUE = "recovery"
READY = 3000
WORKERS = 40


def _ready(n: int) -> JobReady:
    job_id = f"job-{n:05d}"
    spec = JobSpec(name=job_id, task=ShellTask(argv=["true"]), queue=QUEUE)
    return JobReady(job_id=job_id, execution_id=f"{job_id}.1", attempt=1, queue=QUEUE, priority=5, spec=spec,
                    enqueued_at=utcnow())


def _feed_ready(publisher: Publisher, topic: str) -> None:
    """READY executions over about 6 s (500 a second, in tens)."""
    for n in range(READY):
        publisher.publish(topic, QUEUE, _ready(n))
        if n % 10 == 9:
            publisher.flush(10)
            time.sleep(0.02)  # pacing the producer, not waiting for anything
    publisher.flush(30)


class CreditFeed:
    """One pretend worker with room for everything, sending a fresh credit every 200 ms (as a
    worker does every 2 s) so that credits are live again after a restart."""

    def __init__(self, publisher: Publisher, topic: str) -> None:
        self.publisher, self.topic = publisher, topic
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        seq = 0
        while not self.stopped.wait(0.2):  # the pretend worker's credit period
            seq += 1
            credit = WorkerCredit(worker_id="w-roomy", queue=QUEUE, free_slots=1_000_000, received=0,
                                  cpu_free=1e6, memory_mb_free=10**9, issued_at=utcnow(), incarnation=1, seq=seq)
            self.publisher.publish(self.topic, QUEUE, credit)
            self.publisher.flush(10)

    def __enter__(self) -> CreditFeed:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stopped.set()
        self.thread.join(10)


def test_dispatcher_kill_9_mid_burst_assigns_each_execution_once(
        test_settings: Settings, topics_ready: Topics, services: dict[str, ServiceProcess], tmp_path: Path) -> None:
    # Given a dispatcher and a worker with room for every execution
    args = ["dispatcher", "--instance-id", "dispatcher-1"]
    services["first"] = ServiceProcess("dispatcher-1", args, test_settings, tmp_path).start()
    publisher = Publisher(test_settings)
    reader = TopicReader(test_settings, topics_ready.assignments)
    with CreditFeed(publisher, topics_ready.dispatch):
        # When ready executions stream in and the dispatcher is killed -9 half-way through them
        feeder = threading.Thread(target=_feed_ready, args=(publisher, topics_ready.dispatch), daemon=True)
        feeder.start()
        reader.wait_for(lambda records: len(records) > 100, 90, "assignments to flow")
        services["first"].kill()
        reader.drain(quiet_s=1.0)
        assert len(reader.records) < READY, "the kill came after the burst: nothing was tested"
        restarted = time.monotonic()
        services["second"] = ServiceProcess("dispatcher-2", args, test_settings, tmp_path).start()
        feeder.join(60)
        reader.wait_for(lambda records: len({r.job_id for r in records}) >= READY, 120, "every execution assigned")
        resumed_after_s = time.monotonic() - restarted
        reader.drain(quiet_s=2.0)  # anything a faulty restart might still append

    # Then each execution was assigned exactly once
    counts = Counter(r.execution_id for r in reader.records if isinstance(r, Assignment))
    assert set(counts) == {f"job-{n:05d}.1" for n in range(READY)}
    twice = {execution: n for execution, n in counts.items() if n > 1}
    assert not twice, f"assigned more than once: {list(twice.items())[:5]}"
    print(f"all assigned {resumed_after_s:.1f}s after the restart")
    reader.close()


def _worker_record(worker_id: str, seq: int, kind: type[WorkerRegistered] | type[WorkerHeartbeat]) -> object:
    envelope = WorkerEnvelope(event_id=f"{worker_id}:{seq}", worker_id=worker_id, seq=seq,
                              type=kind.short_name(), occurred_at=utcnow(), actor="test")
    if kind is WorkerRegistered:
        return WorkerRegistered(envelope=envelope, hostname="test", pid=1, queues=[QUEUE], slots=4, cpu=4.0,
                                memory_mb=4096)
    return WorkerHeartbeat(envelope=envelope, running=[f"job-{worker_id}.1"], free_slots=3)  # runs what it was sent


def test_worker_monitor_kill_9_declares_each_loss_and_expiry_once(
        test_settings: Settings, topics_ready: Topics, services: dict[str, ServiceProcess], tmp_path: Path) -> None:
    # Given a worker monitor, and workers that registered, were sent one execution each, and heartbeat
    args = ["worker-monitor", "--instance-id", "monitor-1", "--window-s", "3"]
    services["first"] = ServiceProcess("monitor-1", args, test_settings, tmp_path).start()
    publisher = Publisher(test_settings)
    workers = [f"w-{n:03d}" for n in range(WORKERS)]
    spec = JobSpec(name="held", task=ShellTask(argv=["true"]), queue=QUEUE)
    for worker_id in workers:
        publisher.publish(topics_ready.workers, worker_id, _worker_record(worker_id, 1, WorkerRegistered))
        publisher.publish(topics_ready.assignments, worker_id, Assignment(
            job_id=f"job-{worker_id}", execution_id=f"job-{worker_id}.1", attempt=1, worker_id=worker_id,
            spec=spec, assigned_at=utcnow()))
    publisher.flush()

    # When the odd ones fall silent in waves while the monitor is killed -9 and restarted
    reader = TopicReader(test_settings, topics_ready.workers, topics_ready.commands)
    odd = {w for n, w in enumerate(workers) if n % 2 == 1}
    silent_at = {worker_id: utcnow() + timedelta(seconds=0.3 * (n % 20)) for n, worker_id in enumerate(workers)}
    beats = iter(range(2, 10**6))

    def beat_and_read() -> set[str]:
        seq, now = next(beats), utcnow()
        for worker_id in workers:
            if worker_id not in odd or now < silent_at[worker_id]:
                publisher.publish(topics_ready.workers, worker_id, _worker_record(worker_id, seq, WorkerHeartbeat))
        publisher.flush()
        reader.poll(0.3)
        return {r.envelope.worker_id for r in reader.records if isinstance(r, WorkerLost)}

    deadline = time.monotonic() + 30
    while not beat_and_read():
        assert time.monotonic() < deadline, "no worker was declared lost: nothing was tested"
    services["first"].kill()
    services["second"] = ServiceProcess("monitor-2", args, test_settings, tmp_path).start()
    deadline = time.monotonic() + 90
    while not beat_and_read() >= odd:
        assert time.monotonic() < deadline, "timed out waiting for every silent worker to be declared lost"
    quiet_until = time.monotonic() + 3  # anything a faulty restart might still append
    while time.monotonic() < quiet_until:
        beat_and_read()

    # Then each silent worker is lost once, its execution expired once; no live worker is lost
    lost = Counter(r.envelope.worker_id for r in reader.records if isinstance(r, WorkerLost))
    expired = Counter(r.execution_id for r in reader.records if isinstance(r, ExpireExecution))
    assert set(lost) == odd, f"lost: {sorted(lost)}"
    assert all(n == 1 for n in lost.values()), f"declared lost more than once: {lost}"
    assert set(expired) == {f"job-{w}.1" for w in odd}
    assert all(n == 1 for n in expired.values()), f"expired more than once: {expired}"
    reader.close()

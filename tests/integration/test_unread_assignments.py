"""A live worker that never reads an assignment (its feed stopped delivering) does not hold the
job forever: the worker monitor sees from the worker's heartbeats that the assignment stays
unread, and expires it so that the job runs elsewhere. A worker that read and runs what it was
sent keeps it, and neither is declared lost."""

from __future__ import annotations

import time
from pathlib import Path

from confluent_kafka import KafkaError, Message

from jobstream.clock import utcnow
from jobstream.config import Settings
from jobstream.core.liveness import UNREAD_AFTER_S
from jobstream.infra.topics import Topics
from jobstream.schemas import (
    Assignment,
    ExpireExecution,
    JobSpec,
    ShellTask,
    WorkerEnvelope,
    WorkerHeartbeat,
    WorkerLost,
    WorkerRegistered,
)
from jobstream.streams.kafka_io import Publisher
from tests.integration.harness import ServiceProcess, TopicReader

DEADLINE_S = 60.0  # a busy 2-core machine


class SyntheticWorker:
    """Publishes one worker's records as a worker process would, with its feed's position said by the test."""

    def __init__(self, publisher: Publisher, topics: Topics, worker_id: str) -> None:
        self.publisher, self.topics, self.worker_id, self.seq = publisher, topics, worker_id, 0

    def _envelope(self, kind: type[WorkerRegistered] | type[WorkerHeartbeat]) -> WorkerEnvelope:
        self.seq += 1
        return WorkerEnvelope(event_id=f"{self.worker_id}:{self.seq}", worker_id=self.worker_id, seq=self.seq,
                              type=kind.short_name(), occurred_at=utcnow(), actor="test")

    def register(self) -> None:
        self.publisher.publish(self.topics.workers, self.worker_id, WorkerRegistered(
            envelope=self._envelope(WorkerRegistered), hostname="test", pid=1, queues=["default"], slots=4,
            cpu=4.0, memory_mb=4096))

    def sent(self, job_id: str) -> int:
        """An assignment to this worker; returns its offset."""
        offsets: list[int] = []

        def delivered(error: KafkaError | None, message: Message) -> None:
            assert error is None, error
            offsets.append(message.offset())  # type: ignore[arg-type]

        assignment = Assignment(job_id=job_id, execution_id=f"{job_id}.1", attempt=1, worker_id=self.worker_id,
                                spec=JobSpec(name="held", task=ShellTask(argv=["true"])), assigned_at=utcnow())
        self.publisher.publish(self.topics.assignments, self.worker_id, assignment, delivered)
        assert self.publisher.flush(30) == 0
        return offsets[0]

    def heartbeat(self, read_to: int, *running: str) -> None:
        self.publisher.publish(self.topics.workers, self.worker_id, WorkerHeartbeat(
            envelope=self._envelope(WorkerHeartbeat), running=list(running), free_slots=3,
            assignments_read_to=read_to))


def test_an_assignment_a_live_worker_leaves_unread_is_expired(
        test_settings: Settings, topics_ready: Topics, services: dict[str, ServiceProcess], tmp_path: Path) -> None:
    # Given a worker monitor, a worker that reads and runs what it is sent, and one whose feed stands still
    services["monitor"] = ServiceProcess("monitor", ["worker-monitor", "--instance-id", "monitor-1"],
                                         test_settings, tmp_path).start()
    publisher = Publisher(test_settings)
    reading, deaf = (SyntheticWorker(publisher, topics_ready, w) for w in ("w-reading", "w-deaf"))
    for worker in (reading, deaf):
        worker.register()
    reading_at, deaf_at = reading.sent("job-read"), deaf.sent("job-unread")
    reader = TopicReader(test_settings, topics_ready.workers, topics_ready.commands)

    # When both keep heartbeating, one saying it has read past its assignment, the other not
    expired: list[ExpireExecution] = []
    started = time.monotonic()
    beats, deadline = 0, started + UNREAD_AFTER_S + DEADLINE_S
    while not expired:
        assert time.monotonic() < deadline, f"nothing was expired after {beats} heartbeats each"
        reading.heartbeat(reading_at + 1, "job-read.1")
        deaf.heartbeat(deaf_at)
        publisher.flush(30)
        beats += 1
        reader.poll(0.3)
        expired = [r for r in reader.records if isinstance(r, ExpireExecution)]

    for _ in range(5):  # a few more: anything else the monitor would wrongly expire comes with them
        reading.heartbeat(reading_at + 1, "job-read.1")
        deaf.heartbeat(deaf_at)
        publisher.flush(30)
        reader.poll(0.3)
    expired = [r for r in reader.records if isinstance(r, ExpireExecution)]

    # Then only the unread assignment is expired, after enough heartbeats, and no worker is lost
    assert [(e.execution_id, e.worker_id) for e in expired] == [("job-unread.1", "w-deaf")]
    assert "has not read" in expired[0].reason and time.monotonic() - started >= UNREAD_AFTER_S
    assert not [r for r in reader.records if isinstance(r, WorkerLost)]
    reader.close()

"""An execution's log on the logs topic: pieces of output become LogChunk records keyed by execution_id.

Sequence numbers count from 1 per execution, in the order the pieces were cut, so a chunk
delivered twice is the same (execution_id, seq) and the projection keeps one. Producing is
librdkafka's asynchronous produce: it queues and returns, it never waits for the broker.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from jobstream.schemas import Assignment, LogChunk
from jobstream.streams.kafka_io import Publisher
from jobstream.worker.executors.output import Piece


def chunk_record(assignment: Assignment, worker_id: str, seq: int, piece: Piece, at: datetime) -> LogChunk:
    return LogChunk(execution_id=assignment.execution_id, job_id=assignment.job_id, attempt=assignment.attempt,
                    worker_id=worker_id, seq=seq, stream=piece.stream, data=piece.data, at=at,
                    truncated=piece.truncated, eof=piece.eof, dropped_bytes=piece.dropped_bytes)


class ExecutionLog:
    """The sink of one execution's ExecutionOutput: numbers its pieces and publishes them."""

    def __init__(self, publisher: Publisher, assignment: Assignment, worker_id: str,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.publisher, self.assignment, self.worker_id, self.now = publisher, assignment, worker_id, now
        self.seq = 0

    def __call__(self, piece: Piece) -> None:
        self.seq += 1
        record = chunk_record(self.assignment, self.worker_id, self.seq, piece, self.now())
        self.publisher.publish(self.publisher.topics.logs, self.assignment.execution_id, record)
        self.publisher.poll(0)

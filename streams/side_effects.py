"""What the state processor tells others after a decision: ready work to the dispatcher of its
queue, stop notices to workers, dead letters, and commands to other jobs (``core/follow_ups.py``). Derived from (state before, events, state after),
so a replayed decision sends the same messages again, and every receiver tolerates repeats."""

from __future__ import annotations

import faust

from jobstream.core.follow_ups import follow_up_commands
from jobstream.core.state import ACTIVE, JobState, Status
from jobstream.infra.topics import Topics
from jobstream.schemas import (
    CancelExecution, Codec, DeadLetter, JobCancelled, JobDeadLettered, JobEvent, JobQueued, JobReady,
    JobUpdated, JobWithdrawn, Record, ReportRejected,
)
from jobstream.streams.app import partition_for, produce


class SideEffects:
    def __init__(self, app: faust.App, topics: Topics, codec: Codec, partitions: int) -> None:
        self.app = app
        self.codec = codec
        self.partitions = partitions
        self.dispatch = topics.dispatch
        self.assignments = topics.assignments
        self.dead_letters = topics.dead_letters
        self.commands = topics.commands

    async def after(self, before: JobState, after: JobState, events: list[JobEvent]) -> None:
        messages = [message for event in events for message in self._messages(before, after, event)]
        messages += [(self.commands, c.envelope.job_id, c) for c in follow_up_commands(before, after, events)]
        for topic, key, record in messages:
            value = self.codec.encode(record, topic)
            await produce(self.app, topic, key.encode(), value, partition_for(key, self.partitions))

    def _messages(self, before: JobState, after: JobState, event: JobEvent) -> list[tuple[str, str, Record]]:
        match event:
            case JobQueued() if after.spec is not None:
                ready = JobReady(job_id=after.job_id, execution_id=event.execution_id, attempt=event.attempt,
                                 queue=event.queue, priority=event.priority, spec=after.spec,
                                 enqueued_at=event.envelope.occurred_at)
                return [(self.dispatch, event.queue, ready)]
            case JobCancelled() if before.status == Status.QUEUED and before.spec is not None:
                return [(self.dispatch, before.spec.queue, _withdrawn(before, "cancelled"))]
            case JobCancelled() if before.status in ACTIVE and before.worker_id:
                return [(self.assignments, before.worker_id, _stop(before, before.worker_id, event.reason))]
            case JobUpdated() if after.status == Status.QUEUED and before.spec is not None and after.spec is not None:
                ready = JobReady(job_id=after.job_id, execution_id=after.execution_id or "", attempt=after.attempt,
                                 queue=after.spec.queue, priority=after.spec.priority, spec=after.spec,
                                 enqueued_at=event.envelope.occurred_at)
                return [(self.dispatch, before.spec.queue, _withdrawn(before, "updated")),
                        (self.dispatch, after.spec.queue, ready)]
            case ReportRejected():
                stop = CancelExecution(job_id=after.job_id, execution_id=event.execution_id, attempt=event.attempt,
                                       worker_id=event.worker_id, reason=event.reason)
                return [(self.assignments, event.worker_id, stop)]
            case JobDeadLettered() if after.spec is not None:
                letter = DeadLetter(job_id=after.job_id, spec=after.spec, attempts=event.attempts,
                                    last_error=event.last_error, dead_lettered_at=event.envelope.occurred_at)
                return [(self.dead_letters, after.job_id, letter)]
        return []


def _withdrawn(state: JobState, reason: str) -> JobWithdrawn:
    assert state.spec is not None
    return JobWithdrawn(job_id=state.job_id, attempt=state.attempt, queue=state.spec.queue, reason=reason)


def _stop(state: JobState, worker_id: str, reason: str) -> CancelExecution:
    return CancelExecution(job_id=state.job_id, execution_id=state.execution_id or "", attempt=state.attempt,
                           worker_id=worker_id, reason=reason)

"""What the state processor tells others after a decision: ready work to the dispatcher of its
queue, stop notices to workers, dead letters, commands to other jobs (``core/follow_ups.py``) and timer
changes to the timer processor (``core/timers.py``). Derived from (state before, events, state after),
so a replayed decision sends the same messages again, and every receiver tolerates repeats.

``messages`` is the pure part, shared by both runtimes; ``SideEffects`` sends them through faust."""

from __future__ import annotations

from typing import TYPE_CHECKING

from jobstream.core.follow_ups import follow_up_commands
from jobstream.core.state import ACTIVE, JobState, Status
from jobstream.core.timers import timer_changes
from jobstream.infra.topics import Topics
from jobstream.schemas import (
    CancelExecution, Codec, DeadLetter, JobCancelled, JobDeadLettered, JobEvent, JobQueued, JobReady,
    JobUpdated, JobWithdrawn, Record, ReportRejected,
)

if TYPE_CHECKING:  # the engine runtime imports ``messages`` without faust
    import faust

Message = tuple[str, str, Record]  # (topic, key, record)


def messages(topics: Topics, before: JobState, after: JobState, events: list[JobEvent]) -> list[Message]:
    """Every message a decision (``before`` -> ``events`` -> ``after``) sends to others. Pure."""
    out = [message for event in events for message in _messages(topics, before, after, event)]
    out += [(topics.commands, c.envelope.job_id, c) for c in follow_up_commands(before, after, events)]
    out += [(topics.timer_requests, change.job_id, change) for change in timer_changes(before, events)]
    return out


class SideEffects:
    """Sends the messages of a decision with a faust app's producer."""

    def __init__(self, app: faust.App, topics: Topics, codec: Codec, partitions: int) -> None:
        self.app = app
        self.topics = topics
        self.codec = codec
        self.partitions = partitions

    async def after(self, before: JobState, after: JobState, events: list[JobEvent]) -> None:
        from jobstream.streams.app import partition_for, produce  # faust's edge; loaded already by its app

        for topic, key, record in messages(self.topics, before, after, events):
            value = self.codec.encode(record, topic)
            await produce(self.app, topic, key.encode(), value, partition_for(key, self.partitions))


def _messages(topics: Topics, before: JobState, after: JobState, event: JobEvent) -> list[Message]:
    match event:
        case JobQueued() if after.spec is not None:
            ready = JobReady(job_id=after.job_id, execution_id=event.execution_id, attempt=event.attempt,
                             queue=event.queue, priority=event.priority, spec=after.spec,
                             enqueued_at=event.envelope.occurred_at)
            return [(topics.dispatch, event.queue, ready)]
        case JobCancelled() if before.status == Status.QUEUED and before.spec is not None:
            return [(topics.dispatch, before.spec.queue, _withdrawn(before, "cancelled"))]
        case JobCancelled() if before.status in ACTIVE and before.worker_id:
            return [(topics.assignments, before.worker_id, _stop(before, before.worker_id, event.reason))]
        case JobUpdated() if after.status == Status.QUEUED and before.spec is not None and after.spec is not None:
            ready = JobReady(job_id=after.job_id, execution_id=after.execution_id or "", attempt=after.attempt,
                             queue=after.spec.queue, priority=after.spec.priority, spec=after.spec,
                             enqueued_at=event.envelope.occurred_at)
            return [(topics.dispatch, before.spec.queue, _withdrawn(before, "updated")),
                    (topics.dispatch, after.spec.queue, ready)]
        case ReportRejected():
            stop = CancelExecution(job_id=after.job_id, execution_id=event.execution_id, attempt=event.attempt,
                                   worker_id=event.worker_id, reason=event.reason)
            return [(topics.assignments, event.worker_id, stop)]
        case JobDeadLettered() if after.spec is not None:
            letter = DeadLetter(job_id=after.job_id, spec=after.spec, attempts=event.attempts,
                                last_error=event.last_error, dead_lettered_at=event.envelope.occurred_at)
            return [(topics.dead_letters, after.job_id, letter)]
    return []


def _withdrawn(state: JobState, reason: str) -> JobWithdrawn:
    assert state.spec is not None
    return JobWithdrawn(job_id=state.job_id, attempt=state.attempt, queue=state.spec.queue, reason=reason)


def _stop(state: JobState, worker_id: str, reason: str) -> CancelExecution:
    return CancelExecution(job_id=state.job_id, execution_id=state.execution_id or "", attempt=state.attempt,
                           worker_id=worker_id, reason=reason)

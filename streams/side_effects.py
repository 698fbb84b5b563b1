"""What the state processor tells others after a decision: ready work to the dispatcher of its
queue, stop notices to workers, dead letters, commands to other jobs (``core/follow_ups.py``) and timer
changes to the timer processor (``core/timers.py``). Derived from (state before, events, state after),
so a replayed decision sends the same messages again, and every receiver tolerates repeats.

``messages`` is pure; the state processor sends what it returns in the decision's transaction."""

from __future__ import annotations

from collections.abc import Sequence

from jobstream.core.follow_ups import follow_up_commands
from jobstream.core.state import ACTIVE, JobState, Status
from jobstream.core.timers import timer_changes
from jobstream.infra.topics import Topics
from jobstream.schemas import (
    CancelExecution,
    DeadLetter,
    JobCancelled,
    JobDeadLettered,
    JobEvent,
    JobQueued,
    JobReady,
    JobUpdated,
    JobWithdrawn,
    Record,
    ReportRejected,
)

Message = tuple[str, str, Record]  # (topic, key, record)


def messages(topics: Topics, before: JobState, after: JobState, events: list[JobEvent],
             states: Sequence[JobState] | None = None) -> list[Message]:
    """Every message a decision (``before`` -> ``events`` -> ``after``) sends to others. Pure.
    ``states``: the state before each event, where the caller folded them already."""
    out = [message for event in events for message in _messages(topics, before, after, event)]
    out += [(topics.commands, c.envelope.job_id, c) for c in follow_up_commands(before, after, events)]
    out += [(topics.timer_requests, change.job_id, change) for change in timer_changes(before, events, states)]
    return out


def _messages(topics: Topics, before: JobState, after: JobState, event: JobEvent) -> list[Message]:
    match event:
        case JobQueued() if after.spec is not None:
            ready = JobReady(job_id=after.job_id, execution_id=event.execution_id, attempt=event.attempt,
                             queue=event.queue, priority=event.priority, spec=after.spec,
                             enqueued_at=event.envelope.occurred_at, namespace=after.namespace)
            return [(topics.dispatch, event.queue, ready)]
        case JobCancelled() if before.status == Status.QUEUED and before.spec is not None:
            return [(topics.dispatch, before.spec.queue, _withdrawn(before, "cancelled"))]
        case JobCancelled() if before.status in ACTIVE and before.worker_id:
            return [(topics.assignments, before.worker_id, _stop(before, before.worker_id, event.reason))]
        case JobUpdated() if before.status == Status.QUEUED and before.spec is not None:
            # The new spec goes out as the next attempt, by the JobQueued that follows this event.
            return [(topics.dispatch, before.spec.queue, _withdrawn(before, "updated"))]
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

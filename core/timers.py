"""What a decision's events ask of the timer processor: timers to arm and to disarm. Pure.

The state processor sends these as ``TimerChange`` records on a topic of their own, so that the
timer processor reads a few records per scheduled or retried job instead of every event of every
job. A change that only disarms is sent only when the job may have a timer pending: every armed
timer leaves its job ``scheduled`` until it fires or is disarmed (a retry's backoff, a schedule's
next fire), so a job that was not scheduled has nothing to disarm, and a plain job sends none.
"""

from __future__ import annotations

from collections.abc import Sequence

from jobstream.core.decide import retry_timer_id
from jobstream.core.scheduling import schedule_timer_id
from jobstream.core.state import JobState, Status, evolve
from jobstream.schemas import (
    ArmedTimer,
    JobCancelled,
    JobCompleted,
    JobDeadLettered,
    JobEvent,
    JobFailed,
    JobPaused,
    JobQueued,
    JobResumed,
    JobRetryScheduled,
    JobScheduled,
    ScheduleEnded,
    TimerChange,
    TimerPurpose,
)


def timer_change(event: JobEvent) -> TimerChange | None:
    """The change one event implies, or None. Applying a change twice changes nothing more."""
    job_id, cause = event.envelope.job_id, event.envelope.event_id
    match event:
        case JobScheduled(next_run_at=due) | JobResumed(next_run_at=due) if due is not None:
            # The job waits for this fire only: an earlier one (before a PATCH) is disarmed.
            timer = ArmedTimer(timer_id=schedule_timer_id(job_id, due), due_at=due, purpose=TimerPurpose.SCHEDULE)
            return TimerChange(job_id=job_id, arm=[timer], disarm_job=True, caused_by=cause)
        case JobRetryScheduled(next_attempt=attempt, retry_at=due):
            timer = ArmedTimer(timer_id=retry_timer_id(job_id, attempt), due_at=due, purpose=TimerPurpose.RETRY)
            return TimerChange(job_id=job_id, arm=[timer], caused_by=cause)
        case JobQueued(attempt=attempt):
            return TimerChange(job_id=job_id, disarm=[retry_timer_id(job_id, attempt)], caused_by=cause)
        case JobCancelled() | JobCompleted() | JobDeadLettered() | JobFailed(final=True) | JobPaused() \
                | ScheduleEnded():
            return TimerChange(job_id=job_id, disarm_job=True, caused_by=cause)
    return None


def timer_changes(before: JobState, events: list[JobEvent],
                  states: Sequence[JobState] | None = None) -> list[TimerChange]:
    """The changes worth sending for a decision (``before`` then ``events``), in order. ``states``,
    the state before each event, saves folding them again where the caller has them."""
    changes = [timer_change(event) for event in events]
    if not any(changes):
        return []
    if states is None:  # the status before each event, by the one state machine
        folded = [before]
        for event in events[:-1]:
            folded.append(evolve(folded[-1], event))
        states = folded
    # zip stops at the last event: a caller's states may end with the state after it
    return [change for state, change in zip(states, changes, strict=False)
            if change is not None and (change.arm or state.status == Status.SCHEDULED)]


def pending_timer(state: JobState) -> ArmedTimer | None:
    """The timer a scheduled job waits for: its retry's backoff, or its schedule's next fire. The
    state processor arms it again when it is long overdue (``core/timer_watch.py``)."""
    if state.status != Status.SCHEDULED:
        return None
    if state.retry_at is not None:
        return ArmedTimer(timer_id=retry_timer_id(state.job_id, state.attempt + 1), due_at=state.retry_at,
                          purpose=TimerPurpose.RETRY)
    if state.next_run_at is not None:
        return ArmedTimer(timer_id=schedule_timer_id(state.job_id, state.next_run_at), due_at=state.next_run_at,
                          purpose=TimerPurpose.SCHEDULE)
    return None


__all__ = ["pending_timer", "timer_change", "timer_changes"]

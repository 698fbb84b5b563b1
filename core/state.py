"""A job's state, and ``evolve``: the pure fold of one event into it.

State is derived: folding a job's events from seq 1 rebuilds it exactly. Every event must carry
``seq == state.seq + 1``; callers drop duplicates (``seq <= state.seq``) before folding.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from collections.abc import Iterable

from jobstream.schemas import (
    CommandRejected,
    JobAssigned,
    JobCancelled,
    JobCompleted,
    JobDeadLettered,
    JobEvent,
    JobFailed,
    JobPaused,
    JobPending,
    JobProgressed,
    JobQueued,
    JobResumed,
    JobRetryScheduled,
    JobScheduled,
    JobSpec,
    JobStarted,
    JobSubmitted,
    JobUpdated,
    ReportRejected,
    ScheduleFired,
    ScheduleSkipped,
)

# How many recent command ids a job remembers, so that a redelivered command changes nothing.
# Redeliveries follow a crash within seconds; a job rarely sees this many commands in between.
REMEMBERED_COMMANDS = 64


class Status(StrEnum):
    PENDING = "pending"
    SCHEDULED = "scheduled"
    QUEUED = "queued"
    ASSIGNED = "assigned"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    PAUSED = "paused"


TERMINAL = frozenset({Status.COMPLETED, Status.FAILED, Status.CANCELLED})
ACTIVE = frozenset({Status.ASSIGNED, Status.RUNNING})


class SequenceError(ValueError):
    """An event that does not follow the state's sequence: a gap, or another job's event."""


@dataclass(frozen=True, slots=True)
class JobState:
    job_id: str
    seq: int = 0
    status: Status | None = None  # None: the job does not exist (yet)
    spec: JobSpec | None = None
    attempt: int = 0  # the lease number: grows with every execution, fences stale reports
    tries: int = 0  # executions of the current run, for the retry policy
    execution_id: str | None = None
    worker_id: str | None = None
    last_error: str | None = None
    submitted_at: datetime | None = None
    updated_at: datetime | None = None
    recent_commands: tuple[str, ...] = ()

    @property
    def exists(self) -> bool:
        return self.status is not None

    def has_applied(self, command_id: str) -> bool:
        return command_id in self.recent_commands


def execution_id_for(job_id: str, attempt: int) -> str:
    """Deterministic, so a replayed decision names the same execution."""
    return f"{job_id}.{attempt}"


def event_id_for(job_id: str, seq: int) -> str:
    return f"{job_id}:{seq}"


def evolve(state: JobState, event: JobEvent) -> JobState:
    """Fold one event into the state. Pure; raises SequenceError on a gap or a foreign event."""
    envelope = event.envelope
    if envelope.job_id != state.job_id:
        raise SequenceError(f"event {envelope.event_id} belongs to job {envelope.job_id}, not {state.job_id}")
    if envelope.seq != state.seq + 1:
        raise SequenceError(f"job {state.job_id}: expected seq {state.seq + 1}, got {envelope.seq}")
    base = replace(state, seq=envelope.seq, updated_at=envelope.occurred_at,
                   recent_commands=_remember(state.recent_commands, envelope.causation_id))
    return _apply(base, event)


def fold(job_id: str, events: Iterable[JobEvent]) -> JobState:
    state = JobState(job_id)
    for event in events:
        state = evolve(state, event)
    return state


def _remember(recent: tuple[str, ...], command_id: str | None) -> tuple[str, ...]:
    if command_id is None or command_id in recent:
        return recent
    return (recent + (command_id,))[-REMEMBERED_COMMANDS:]


def _apply(state: JobState, event: JobEvent) -> JobState:  # noqa: C901 - one arm per event type
    match event:
        case JobSubmitted(spec=spec):
            return replace(state, status=Status.PENDING, spec=spec, submitted_at=event.envelope.occurred_at)
        case JobPending():
            return replace(state, status=Status.PENDING)
        case JobScheduled() | JobRetryScheduled():
            return replace(state, status=Status.SCHEDULED, worker_id=None)
        case JobQueued(attempt=attempt, execution_id=execution_id):
            # A run starts afresh after a terminal state (manual retry, redrive); otherwise
            # this is the next try of the current run (a retry, or a lost worker's job).
            tries = 1 if state.status in TERMINAL else state.tries + 1
            return replace(state, status=Status.QUEUED, attempt=attempt, execution_id=execution_id,
                           worker_id=None, tries=tries)
        case JobAssigned(worker_id=worker_id):
            return replace(state, status=Status.ASSIGNED, worker_id=worker_id)
        case JobStarted(worker_id=worker_id):
            return replace(state, status=Status.RUNNING, worker_id=worker_id)
        case JobCompleted():
            return replace(state, status=Status.COMPLETED, last_error=None)
        case JobFailed(final=final, error=error):
            return replace(state, status=Status.FAILED if final else state.status, last_error=error)
        case JobDeadLettered():
            return replace(state, status=Status.FAILED)
        case JobCancelled():
            return replace(state, status=Status.CANCELLED)
        case JobPaused():
            return replace(state, status=Status.PAUSED)
        case JobResumed():
            return replace(state, status=Status.SCHEDULED)
        case JobUpdated(patch=patch) if state.spec is not None:
            from jobstream.core.patch import apply_patch

            return replace(state, spec=apply_patch(state.spec, patch))
        case ScheduleFired():
            return replace(state, tries=0)  # each fire is a new run with its own retries
        case JobProgressed() | CommandRejected() | ReportRejected() | ScheduleSkipped():
            return state
    return state

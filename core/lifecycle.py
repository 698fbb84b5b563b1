"""A job's lifecycle: its statuses, and how each event moves them.

Declared once for both folds of a job's events: ``core.state.evolve`` applies ``transition`` to a
``JobState`` and the projection (``projections/mapping.py``) to the ``jobs`` row, whose fields carry
the same names. Each adds what only it keeps (spec and schedule bookkeeping; timestamps and
results), never a lifecycle field, so the state processor and the read model cannot disagree.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from jobstream.schemas import (
    JobAssigned,
    JobCancelled,
    JobCompleted,
    JobDeadLettered,
    JobEvent,
    JobFailed,
    JobPaused,
    JobPending,
    JobQueued,
    JobResumed,
    JobRetryScheduled,
    JobReturned,
    JobScheduled,
    JobStarted,
    JobSubmitted,
    ScheduleEnded,
    ScheduleFired,
)


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
# Final for good: no command brings such a job back (a failed one can be retried or redriven).
SETTLED = frozenset({Status.COMPLETED, Status.CANCELLED})
ACTIVE = frozenset({Status.ASSIGNED, Status.RUNNING})
UNFINISHED = frozenset(Status) - TERMINAL

# What ``transition`` may change; both JobState and the jobs row have fields of these names.
FIELDS = ("status", "attempt", "tries", "execution_id", "worker_id", "last_error", "runs")


def transition(status: str | None, tries: int, event: JobEvent) -> dict[str, Any] | None:  # noqa: C901
    """The lifecycle fields ``event`` changes, given the job's status and tries so far (None: none).
    ``status`` may be the stored string: a ``Status`` compares and hashes as its value."""
    match event:
        case JobSubmitted() | JobPending():
            return {"status": Status.PENDING}
        case JobScheduled() | JobRetryScheduled():
            return {"status": Status.SCHEDULED, "worker_id": None}
        case JobQueued(attempt=attempt, execution_id=execution_id):
            # A run starts afresh after a terminal state (manual retry, redrive); otherwise
            # this is the next try of the current run (a retry, or a lost worker's job).
            return {"status": Status.QUEUED, "attempt": attempt, "execution_id": execution_id, "worker_id": None,
                    "tries": 1 if status in TERMINAL else tries + 1}
        case JobReturned():
            # The returned execution never ran: it gives its try back to the JobQueued that follows.
            return {"status": Status.QUEUED, "worker_id": None, "tries": max(tries - 1, 0)}
        case JobAssigned(worker_id=worker_id):
            return {"status": Status.ASSIGNED, "worker_id": worker_id}
        case JobStarted(worker_id=worker_id):
            return {"status": Status.RUNNING, "worker_id": worker_id}
        case JobCompleted():
            return {"status": Status.COMPLETED, "last_error": None}
        case JobFailed(final=True, error=error):
            return {"status": Status.FAILED, "last_error": error}
        case JobFailed(error=error):  # a retry or a requeue follows in the same decision
            return {"last_error": error}
        case JobDeadLettered():
            return {"status": Status.FAILED}
        case JobCancelled():
            return {"status": Status.CANCELLED}
        case JobPaused():
            return {"status": Status.PAUSED}
        case JobResumed():
            return {"status": Status.SCHEDULED}
        case ScheduleFired(run_job_id=None, run_number=runs):  # one-shot: a new run with its own retries
            return {"runs": runs, "tries": 0}
        case ScheduleFired(run_number=runs):
            return {"runs": runs}
        case ScheduleEnded():
            return {"status": Status.COMPLETED}
    return None

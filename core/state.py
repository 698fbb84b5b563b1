"""A job's state, and ``evolve``: the pure fold of one event into it.

State is derived: folding a job's events from seq 1 rebuilds it exactly. Every event must carry
``seq == state.seq + 1``; callers drop duplicates (``seq <= state.seq``) before folding.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields, replace
from datetime import datetime
from operator import attrgetter
from typing import Any

# The statuses and their sets are the lifecycle's; re-exported here, where callers import them with JobState.
from jobstream.core.lifecycle import ACTIVE as ACTIVE
from jobstream.core.lifecycle import SETTLED as SETTLED
from jobstream.core.lifecycle import TERMINAL as TERMINAL
from jobstream.core.lifecycle import Status, transition
from jobstream.schemas import (
    DEFAULT_NAMESPACE,
    DependentRegistered,
    Envelope,
    JobCompleted,
    JobEvent,
    JobPending,
    JobQueued,
    JobResumed,
    JobRetryScheduled,
    JobScheduled,
    JobSpec,
    JobSubmitted,
    JobUpdated,
    ScheduleEnded,
    ScheduleFired,
    ScheduleRunFinished,
    ScheduleSkipped,
    UpstreamSettled,
)

# How many recent command ids a job remembers, so that a redelivered command changes nothing.
# Redeliveries follow a crash within seconds; a job rarely sees this many commands in between.
REMEMBERED_COMMANDS = 64


class SequenceError(ValueError):
    """An event that does not follow the state's sequence: a gap, or another job's event."""


@dataclass(frozen=True, slots=True)
class Incomplete:
    """A decision whose events stopped before its last: its command, its time, the state before it."""

    command_id: str
    occurred_at: datetime
    before: JobState


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
    # Schedules: the pending fire, the last due time handled (run or skipped), runs fired so far,
    # a recurring job's runs still going (for its overlap policy), and where intervals count from.
    next_run_at: datetime | None = None
    last_due: datetime | None = None
    runs: int = 0
    active_runs: tuple[str, ...] = ()
    schedule_anchor: datetime | None = None
    # Dependencies: upstreams this job still waits on, and the jobs waiting on this one.
    waiting_on: tuple[str, ...] = ()
    dependents: tuple[str, ...] = ()
    # What the job returned when it completed (inline JSON or a {"ref": ...} marker), for its dependents.
    result_json: str | None = None
    # Set while the events of one decision are folded one by one; a state that still has it once
    # folding stops is a decision cut short by a crash, which ``decide`` completes.
    incomplete: Incomplete | None = None
    namespace: str = DEFAULT_NAMESPACE  # set at submission; commands of other namespaces are refused
    retry_at: datetime | None = None  # while it waits out a retry's backoff: when its timer is due

    @property
    def exists(self) -> bool:
        return self.status is not None

    def has_applied(self, command_id: str) -> bool:
        return command_id in self.recent_commands


def tombstone(state: JobState) -> JobState:
    """What a settled job keeps once it has been settled a while: enough to refuse or reject any
    later command (it exists, its status, its lease, the commands it applied) and to number the
    events that records. Its spec, graph and schedule bookkeeping go."""
    if state.status not in SETTLED:
        raise ValueError(f"job {state.job_id} is {state.status}, not settled")
    return JobState(state.job_id, seq=state.seq, status=state.status, attempt=state.attempt,
                    execution_id=state.execution_id, worker_id=state.worker_id,
                    submitted_at=state.submitted_at, updated_at=state.updated_at,
                    recent_commands=state.recent_commands, namespace=state.namespace)


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
    changes = _changes(state, event)
    if changes is None:  # an event that records without changing the job: only the bookkeeping moves
        changes = {}
    changes.update(seq=envelope.seq, updated_at=envelope.occurred_at,
                   recent_commands=_remember(state.recent_commands, envelope.causation_id),
                   incomplete=_incomplete(state, envelope))
    return _with(state, changes)


_FIELDS = tuple(f.name for f in fields(JobState))
_INDEX = {name: i for i, name in enumerate(_FIELDS)}
_VALUES = attrgetter(*_FIELDS)


def _with(state: JobState, changes: dict[str, Any]) -> JobState:
    """``dataclasses.replace(state, **changes)``, built positionally: a JobState is built once per
    event folded, and replace's generic per-field loop cost as much as the construction itself."""
    values = list(_VALUES(state))
    for name, value in changes.items():
        values[_INDEX[name]] = value
    return JobState(*values)


def _incomplete(state: JobState, envelope: Envelope) -> Incomplete | None:
    if not envelope.continues or envelope.causation_id is None:
        return None
    if state.incomplete is not None and state.incomplete.command_id == envelope.causation_id:
        return state.incomplete
    return Incomplete(envelope.causation_id, envelope.occurred_at, state)


def fold(job_id: str, events: Iterable[JobEvent]) -> JobState:
    state = JobState(job_id)
    for event in events:
        state = evolve(state, event)
    return state


def _remember(recent: tuple[str, ...], command_id: str | None) -> tuple[str, ...]:
    if command_id is None or command_id in recent:
        return recent
    return (recent + (command_id,))[-REMEMBERED_COMMANDS:]


def _fired(state: JobState, event: ScheduleFired) -> dict[str, Any]:
    """A fire runs the job itself (the lifecycle starts a new run) or submits a run, which it follows."""
    fired: dict[str, Any] = {"last_due": _later(state.last_due, event.due_at)}
    if event.run_job_id is not None:
        kept = tuple(run for run in state.active_runs if run not in event.replaces)
        fired["active_runs"] = kept + (event.run_job_id,)
    return fired


def _later(current: datetime | None, candidate: datetime) -> datetime:
    return candidate if current is None or candidate > current else current


def _changes(state: JobState, event: JobEvent) -> dict[str, Any] | None:
    """The fields ``event`` changes in ``state`` (None: none), the lifecycle's and the state's own;
    ``evolve`` applies them at once."""
    changes = transition(state.status, state.tries, event)
    own = _own_changes(state, event)
    if own is not None:
        changes = own if changes is None else {**changes, **own}
    return changes


def _own_changes(state: JobState, event: JobEvent) -> dict[str, Any] | None:  # noqa: C901 - one arm per event type
    """What only the state keeps: the spec, the graph and the schedule's bookkeeping."""
    match event:
        case JobSubmitted(spec=spec):
            at = event.envelope.occurred_at
            return {"spec": spec, "submitted_at": at, "schedule_anchor": at, "namespace": event.envelope.namespace}
        case JobPending(waiting_on=waiting_on):
            return {"waiting_on": tuple(waiting_on)}
        case DependentRegistered(dependent_job_id=dependent) if dependent not in state.dependents:
            return {"dependents": state.dependents + (dependent,)}
        case UpstreamSettled(upstream_job_id=upstream, upstream_result_json=result):
            waiting = {"waiting_on": tuple(u for u in state.waiting_on if u != upstream)}
            if result is None or state.spec is None:
                return waiting
            results = {**state.spec.upstream_results, upstream: result}
            return {**waiting, "spec": replace(state.spec, upstream_results=results)}
        case JobCompleted(result_json=result):
            return {"result_json": result}
        case JobScheduled(next_run_at=next_run_at) | JobResumed(next_run_at=next_run_at):
            return {"next_run_at": next_run_at}
        case JobRetryScheduled(retry_at=retry_at):
            return {"retry_at": retry_at}
        case JobQueued() if state.retry_at is not None:
            return {"retry_at": None}
        case JobUpdated(patch=patch) if state.spec is not None:
            from jobstream.core.patch import apply_patch

            # A new schedule counts its intervals from the change, not from the submission.
            anchor = event.envelope.occurred_at if patch.schedule is not None else state.schedule_anchor
            return {"spec": apply_patch(state.spec, patch), "schedule_anchor": anchor}
        case ScheduleFired():
            return _fired(state, event)
        case ScheduleSkipped(due_at=due_at):
            return {"last_due": _later(state.last_due, due_at)}
        case ScheduleRunFinished(run_job_id=run_job_id):
            return {"active_runs": tuple(r for r in state.active_runs if r != run_job_id)}
        case ScheduleEnded():
            return {"next_run_at": None}
    return None  # the lifecycle's alone, or nothing (JobProgressed, rejections, arms whose guard failed)

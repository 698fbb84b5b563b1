"""Commands one job's decision sends to other jobs: a recurring job submits and cancels its runs,
a run tells its parent when it has ended, a dependent asks its upstreams to tell it when they
end, and an upstream tells its dependents. Pure, and deterministic in every field (ids and
times come from the events), so a decision resent after a crash repeats the same commands and
their receivers ignore the repeat (``decide`` drops a command id it has applied)."""

from __future__ import annotations

from dataclasses import replace

from jobstream.core.scheduling import run_spec
from jobstream.core.state import TERMINAL, JobState
from jobstream.schemas import (
    CancelJob,
    Command,
    CommandEnvelope,
    DependentRegistered,
    Envelope,
    JobCancelled,
    JobEvent,
    JobPending,
    NotifyUpstreamFinished,
    RegisterDependent,
    ScheduleFired,
    SubmitJob,
)

SCHEDULER = "scheduler"


def follow_up_commands(before: JobState, after: JobState, events: list[JobEvent]) -> list[Command]:
    commands: list[Command] = []
    for event in events:
        match event:
            case ScheduleFired(run_job_id=str(run_id)) if after.spec is not None:
                spec = run_spec(after.spec, after.job_id, event.run_number, event.due_at)
                # A run is a new job: it joins its recurring job's namespace (a command naming none would be default's)
                envelope = replace(_envelope(SubmitJob, run_id, f"submit:{run_id}", event), namespace=after.namespace)
                commands.append(SubmitJob(envelope=envelope, spec=spec))
                commands += [_cancel(old, f"replaced by run {event.run_number}", event) for old in event.replaces]
            case JobCancelled() if before.active_runs:
                commands += [_cancel(run, f"its recurring job was cancelled: {event.reason}", event)
                             for run in before.active_runs]
            case JobPending(waiting_on=upstreams):
                commands += [_register(upstream, after.job_id, event) for upstream in upstreams]
            case DependentRegistered(dependent_job_id=dependent) if before.status in TERMINAL:
                commands.append(_notify(dependent, after, str(after.status), event))  # already final: answer now
    commands += _tell_parent(before, after, events)
    commands += _tell_dependents(before, after, events)
    return commands


def _tell_dependents(before: JobState, after: JobState, events: list[JobEvent]) -> list[Command]:
    if not after.dependents or after.status not in TERMINAL or before.status in TERMINAL or not events:
        return []
    return [_notify(dependent, after, str(after.status), events[-1]) for dependent in after.dependents]


def _register(upstream: str, dependent: str, cause: JobEvent) -> RegisterDependent:
    return RegisterDependent(envelope=_envelope(RegisterDependent, upstream, f"depend:{dependent}:{upstream}", cause),
                             dependent_job_id=dependent)


def _notify(dependent: str, upstream: JobState, status: str, cause: JobEvent) -> NotifyUpstreamFinished:
    command_id = f"upstream-ended:{upstream.job_id}:{dependent}:{cause.envelope.seq}"
    return NotifyUpstreamFinished(envelope=_envelope(NotifyUpstreamFinished, dependent, command_id, cause),
                                  upstream_job_id=upstream.job_id, upstream_status=status,
                                  upstream_result_json=upstream.result_json)


def _tell_parent(before: JobState, after: JobState, events: list[JobEvent]) -> list[Command]:
    run_of = after.spec.run_of if after.spec is not None else None
    if run_of is None or after.status not in TERMINAL or before.status in TERMINAL or not events:
        return []
    last = events[-1]
    command_id = f"run-ended:{after.job_id}:{last.envelope.seq}"
    return [NotifyUpstreamFinished(envelope=_envelope(NotifyUpstreamFinished, run_of.parent_job_id, command_id, last),
                                   upstream_job_id=after.job_id, upstream_status=str(after.status))]


def _cancel(job_id: str, reason: str, cause: JobEvent) -> CancelJob:
    return CancelJob(envelope=_envelope(CancelJob, job_id, f"cancel:{job_id}:{cause.envelope.event_id}", cause),
                     reason=reason)


def _envelope(kind: type[Command], job_id: str, command_id: str, cause: JobEvent) -> CommandEnvelope:
    origin: Envelope = cause.envelope
    return CommandEnvelope(command_id=command_id, job_id=job_id, type=kind.short_name(), issued_at=origin.occurred_at,
                           actor=SCHEDULER, correlation_id=origin.correlation_id or origin.job_id)

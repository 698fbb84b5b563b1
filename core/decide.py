"""``decide``: what a command means for a job, as events. Pure: state, command and time in.

A command the state does not allow becomes a ``CommandRejected`` (or, for a report from a stale
lease, a ``ReportRejected``) with a reason: a decision never raises. A command whose id the job
has already applied yields nothing, so a redelivered command changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from jobstream.core import dependencies, scheduling
from jobstream.core.emit import Emitter, queue
from jobstream.core.patch import apply_patch
from jobstream.core.retry import backoff_s, deterministic_draw, should_retry
from jobstream.core.state import ACTIVE, TERMINAL, JobState, Status
from jobstream.core.validation import validate_spec
from jobstream.schemas import (
    NAMESPACE_PATTERN,
    AssignJob,
    CancelJob,
    Command,
    ExpireExecution,
    FireTimer,
    JobAssigned,
    JobCancelled,
    JobCompleted,
    JobDeadLettered,
    JobEvent,
    JobFailed,
    JobProgressed,
    JobRetryScheduled,
    JobReturned,
    JobStarted,
    JobSubmitted,
    JobUpdated,
    NotifyUpstreamFinished,
    Outcome,
    PauseJob,
    RedriveJob,
    RegisterDependent,
    ReportFinished,
    ReportProgress,
    ReportRejected,
    ReportStarted,
    ResumeJob,
    RetryJob,
    ReturnAssignment,
    SubmitJob,
    TimerPurpose,
    UpdateJob,
    valid_namespace,
)

# A job whose worker keeps getting lost is requeued at most this many times, whatever its policy.
MIN_TRIES_AFTER_LOSS = 3


def decide(state: JobState, command: Command, now: datetime) -> list[JobEvent]:
    """The events that ``command`` causes for the job in ``state`` at time ``now``."""
    if state.has_applied(command.envelope.command_id):
        return _complete(state, command)
    return _chained(_decide(state, command, now))


def refuse(state: JobState, command: Command, now: datetime, reason: str) -> list[JobEvent]:
    """The rejection of ``command`` for a reason found outside the job: its namespace's rules."""
    return _chained(Emitter(state, command, now).reject(reason))


def _decide(state: JobState, command: Command, now: datetime) -> list[JobEvent]:
    emit = Emitter(state, command, now)
    if not state.exists and not isinstance(command, SubmitJob | RegisterDependent):
        return emit.reject(f"job {state.job_id} does not exist")
    crossing = crossed_namespace(state, command)
    if crossing is not None:
        return emit.reject(crossing)
    handler = _HANDLERS.get(type(command))
    if handler is None:
        return emit.reject(f"{command.envelope.type} is not supported yet")
    return handler(state, command, emit)


def crossed_namespace(state: JobState, command: Command) -> str | None:
    """Why a command of one namespace may not act on an existing job of another; None if it may.
    The processors' and workers' own commands carry no namespace: they act within the job's."""
    namespace = command.envelope.namespace
    if namespace is not None and not valid_namespace(namespace):
        return f"{namespace[:64]!r} is not a namespace name ({NAMESPACE_PATTERN})"
    if not state.exists or namespace is None or namespace == state.namespace:
        return None
    return f"job {state.job_id} is not in namespace {namespace}"


def _complete(state: JobState, command: Command) -> list[JobEvent]:
    """A redelivered command decides nothing, unless its decision was cut short by a crash: then
    it is decided again from the state before it, at its time, and only the missing events
    follow. Deterministic, so they are exactly the ones that were lost."""
    cut = state.incomplete
    if cut is None or cut.command_id != command.envelope.command_id:
        return []
    events = _chained(_decide(cut.before, command, cut.occurred_at))
    return events[state.seq - cut.before.seq:]


def _chained(events: list[JobEvent]) -> list[JobEvent]:
    """Every event but the last of a decision says more follow, the last does not.

    The Emitter builds them so; a handler returning other than its ``emit.events`` (a part of
    them, say) gets the flags put right here, as before."""
    last = len(events) - 1
    return [e if e.envelope.continues == (i < last) else _continuing(e, i < last) for i, e in enumerate(events)]


def _continuing(event: JobEvent, continues: bool) -> JobEvent:
    return replace(event, envelope=replace(event.envelope, continues=continues))


def _submit(state: JobState, command: SubmitJob, emit: Emitter) -> list[JobEvent]:
    if state.exists:
        return emit.reject(f"job {state.job_id} already exists")
    problems = validate_spec(command.spec)
    if problems:
        return emit.reject("; ".join(f"{field}: {problem}" for field, problem in problems))
    if problem := scheduling.schedule_problem(command.spec, emit.now):
        return emit.reject(problem)
    if problem := dependencies.dependency_problem(state.job_id, command.spec):
        return emit.reject(problem)
    emit(JobSubmitted, spec=command.spec)
    if command.spec.schedule is not None:
        return scheduling.submit_scheduled(state, command.spec.schedule, emit)
    if command.spec.depends_on:
        return dependencies.wait_for_upstreams(command.spec, emit)
    return queue(state, emit, attempt=state.attempt + 1)


def _cancel(state: JobState, command: CancelJob, emit: Emitter) -> list[JobEvent]:
    if state.status in TERMINAL:
        return emit.reject(f"job is already {state.status}")
    emit(JobCancelled, reason=command.reason)
    return emit.events


def _assign(state: JobState, command: AssignJob, emit: Emitter) -> list[JobEvent]:
    if state.status != Status.QUEUED and (command.attempt, command.worker_id) == (state.attempt, state.worker_id):
        # The worker's start got here first and recorded this lease (its run may have ended since):
        # a late copy of what is known, not a decision, so no rejection in the audit trail.
        return []
    if state.status != Status.QUEUED or command.attempt != state.attempt:
        return emit.reject(f"job is {state.status} at attempt {state.attempt}, not queued at attempt {command.attempt}")
    emit(JobAssigned, execution_id=command.execution_id, attempt=command.attempt, worker_id=command.worker_id)
    return emit.events


def _stale(state: JobState, command: ReportStarted | ReportProgress | ReportFinished, emit: Emitter) -> bool:
    """Fencing: a report must come from the current lease (attempt) of an active execution, and
    from the worker holding it. Anything else is rejected, which tells that worker to stop."""
    current_lease = command.attempt == state.attempt
    if current_lease and state.status in ACTIVE and command.worker_id == state.worker_id:
        return False
    if current_lease and state.status == Status.CANCELLED and isinstance(command, ReportFinished):
        return True  # the worker reports on what we asked it to stop: expected, nothing to say
    if not current_lease:
        reason = f"stale lease: attempt {command.attempt} is superseded by attempt {state.attempt}"
    elif state.status in ACTIVE:
        reason = f"the lease of attempt {state.attempt} is held by worker {state.worker_id}"
    else:
        reason = f"job is {state.status}"
    emit(ReportRejected, execution_id=command.execution_id, attempt=command.attempt,
         current_attempt=state.attempt, worker_id=command.worker_id,
         report_type=command.envelope.type, reason=reason)
    return True


def _returned(state: JobState, command: ReturnAssignment | ExpireExecution, emit: Emitter) -> list[JobEvent]:
    """An assignment that never started comes back (the worker had no room, or was lost before it
    started): queue the next attempt, so that a late copy of the old one is fenced, without using
    up a try. A lease that has moved on, or that another worker holds, decides nothing. A queued
    job's lease is not recorded until its worker starts it (the start proves it)."""
    if command.attempt != state.attempt:
        return []
    held_by_it = state.status == Status.ASSIGNED and state.worker_id == command.worker_id
    if not (held_by_it or state.status == Status.QUEUED):
        return []
    emit(JobReturned, execution_id=command.execution_id, attempt=command.attempt,
         worker_id=command.worker_id, reason=command.reason)
    return queue(state, emit, attempt=state.attempt + 1)


def _proven(state: JobState, command: ReportStarted | ReportFinished, emit: Emitter) -> JobState:
    """The job's state once a report of its current lease proves what the events do not say yet:
    a report of a queued job proves its assignment (a worker's reports can overtake the
    dispatcher's: two producers), and a finish proves the start. A worker does not report the
    start of an execution that ends within its first moments (worker/runs.py): the finish says both."""
    if command.attempt != state.attempt:
        return state
    if state.status == Status.QUEUED:
        emit(JobAssigned, execution_id=command.execution_id, attempt=command.attempt, worker_id=command.worker_id)
        state = replace(state, status=Status.ASSIGNED, worker_id=command.worker_id)
    if isinstance(command, ReportFinished) and state.status == Status.ASSIGNED \
            and state.worker_id == command.worker_id:
        emit(JobStarted, execution_id=command.execution_id, attempt=command.attempt, worker_id=command.worker_id,
             pid=None)
        state = replace(state, status=Status.RUNNING)
    return state


def _ended_lease(state: JobState, command: ReportStarted) -> bool:
    """A start of the lease whose end was already decided (its finish overtook it)."""
    same_lease = command.attempt == state.attempt and command.execution_id == state.execution_id
    if not same_lease or state.status in ACTIVE or state.status == Status.QUEUED:
        return False
    # A try that failed and waits for its retry has forgotten its worker.
    return state.status == Status.SCHEDULED or state.worker_id == command.worker_id


def _started(state: JobState, command: ReportStarted, emit: Emitter) -> list[JobEvent]:
    if _ended_lease(state, command):
        return []
    state = _proven(state, command, emit)
    if _stale(state, command, emit):
        return emit.events
    if state.status == Status.RUNNING:
        return []  # a repeated start of the same lease
    emit(JobStarted, execution_id=command.execution_id, attempt=command.attempt,
         worker_id=command.worker_id, pid=command.pid)
    return emit.events


def _progress(state: JobState, command: ReportProgress, emit: Emitter) -> list[JobEvent]:
    if _stale(state, command, emit):
        return emit.events
    emit(JobProgressed, execution_id=command.execution_id, attempt=command.attempt,
         percent=command.percent, message=command.message)
    return emit.events


def _finished(state: JobState, command: ReportFinished, emit: Emitter) -> list[JobEvent]:
    state = _proven(state, command, emit)
    if _stale(state, command, emit):
        return emit.events
    if command.outcome == Outcome.SUCCEEDED:
        emit(JobCompleted, execution_id=command.execution_id, attempt=command.attempt,
             exit_code=command.exit_code, result_json=command.result_json, stdout_tail=command.stdout_tail,
             stderr_tail=command.stderr_tail, duration_ms=command.duration_ms, log_records=command.log_records)
        return emit.events
    error = command.error or _describe_failure(command.outcome, command.exit_code)
    return _fail(state, emit, command.outcome, error, command.exit_code,
                 dict(stdout_tail=command.stdout_tail, stderr_tail=command.stderr_tail,
                      duration_ms=command.duration_ms, log_records=command.log_records))


def _describe_failure(outcome: Outcome, exit_code: int | None) -> str:
    if outcome == Outcome.FAILED and exit_code is not None:
        return f"exited with code {exit_code}"
    return str(outcome).replace("_", " ")


def _fail(state: JobState, emit: Emitter, outcome: Outcome, error: str, exit_code: int | None,
          output: dict[str, Any]) -> list[JobEvent]:
    """A failed try: retry after a backoff, requeue a lost one, or fail for good."""
    assert state.spec is not None
    policy = state.spec.retry
    lost_retry = (outcome == Outcome.LOST
                  and state.tries < max(MIN_TRIES_AFTER_LOSS, policy.max_attempts if policy else 0))
    retry = lost_retry or should_retry(policy, state.tries, outcome, exit_code)
    emit(JobFailed, execution_id=state.execution_id or "", attempt=state.attempt, outcome=outcome,
         exit_code=exit_code, error=error, final=not retry, **output)
    if lost_retry:
        return queue(state, emit, attempt=state.attempt + 1)
    if retry:
        assert policy is not None
        delay = backoff_s(policy, state.tries, deterministic_draw(state.job_id, state.attempt))
        emit(JobRetryScheduled, next_attempt=state.attempt + 1, retry_at=emit.now + timedelta(seconds=delay),
             backoff_ms=int(delay * 1000))
    elif policy is not None:
        emit(JobDeadLettered, attempts=state.tries, last_error=error)
    return emit.events


def retry_timer_id(job_id: str, attempt: int) -> str:
    return f"{job_id}:retry:{attempt}"


def _fire(state: JobState, command: FireTimer, emit: Emitter) -> list[JobEvent]:
    """A timer fires at least once; only the fire the job waits for does anything. A repeat, or
    the timer of a retry that was cancelled meanwhile, is not a decision and leaves no event."""
    if command.purpose == TimerPurpose.RETRY:
        if state.status == Status.SCHEDULED and command.timer_id == retry_timer_id(state.job_id, state.attempt + 1):
            return queue(state, emit, attempt=state.attempt + 1)
        return []
    return scheduling.fire(state, command, emit)


def _expire(state: JobState, command: ExpireExecution, emit: Emitter) -> list[JobEvent]:
    if command.attempt == state.attempt and state.status == Status.QUEUED:
        return _returned(state, command, emit)  # its worker was lost before it started it
    if command.attempt != state.attempt or state.status not in ACTIVE or command.worker_id != state.worker_id:
        return []  # the lease already ended, or another worker holds it: nothing to expire
    return _fail(state, emit, Outcome.LOST, command.reason, None, {})


def _retry(state: JobState, command: RetryJob | RedriveJob, emit: Emitter) -> list[JobEvent]:
    if state.status != Status.FAILED:
        return emit.reject(f"only a failed job can run again; this one is {state.status}")
    return queue(state, emit, attempt=state.attempt + 1)


def _update(state: JobState, command: UpdateJob, emit: Emitter) -> list[JobEvent]:
    if state.status not in (Status.PENDING, Status.SCHEDULED, Status.QUEUED, Status.PAUSED):
        return emit.reject(f"a job that is {state.status} cannot be changed")
    schedule = command.patch.schedule
    if schedule is not None and (problem := scheduling.schedule_change_problem(state, schedule)):
        return emit.reject(problem)
    emit(JobUpdated, patch=command.patch)
    if schedule is not None:
        return scheduling.rearm(state, schedule, emit)
    if state.status == Status.QUEUED and state.spec is not None:
        # The old spec may be on its way to a worker already, under the current attempt: the new
        # one goes out as the next attempt (no try used up), so a start of the old one is fenced.
        return queue(replace(state, spec=apply_patch(state.spec, command.patch)), emit, attempt=state.attempt + 1)
    return emit.events


def _upstream_finished(state: JobState, command: NotifyUpstreamFinished, emit: Emitter) -> list[JobEvent]:
    """A job this one owns (a run of its schedule) or waits on (an upstream) has ended."""
    if command.upstream_job_id in state.active_runs:
        return scheduling.run_finished(state, command, emit)
    return dependencies.settle(state, command, emit)


_HANDLERS: dict[type[Command], Callable[[JobState, Any, Emitter], list[JobEvent]]] = {
    SubmitJob: _submit,
    CancelJob: _cancel,
    AssignJob: _assign,
    ReportStarted: _started,
    ReportProgress: _progress,
    ReportFinished: _finished,
    FireTimer: _fire,
    ExpireExecution: _expire,
    ReturnAssignment: _returned,
    RetryJob: _retry,
    RedriveJob: _retry,
    UpdateJob: _update,
    PauseJob: scheduling.pause,
    ResumeJob: scheduling.resume,
    NotifyUpstreamFinished: _upstream_finished,
    RegisterDependent: dependencies.register,
}

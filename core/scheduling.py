"""``decide``'s handlers for jobs with a schedule: fires, misfires, overlap, pause, resume, changes.

A one-shot schedule (``at``) runs the job itself, once. A recurring one (cron, every) never runs
the job itself: each fire submits a run, a job of its own (``<job_id>.r<n>``) whose spec is the
parent's without the schedule and with ``run_of`` naming the parent. A run has its own retries,
executions and events; when it ends its parent hears of it (NotifyUpstreamFinished) and stops
counting it as active, which is what the overlap policy looks at. Every due time leaves an event
on the parent: ScheduleFired, or ScheduleSkipped with its reason.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from jobstream.core.emit import Emitter, queue
from jobstream.core.schedule import misfire_decisions, next_fire, overlap_decision, plan_fires, validate_schedule
from jobstream.core.state import JobState, Status
from jobstream.schemas import (
    FireTimer,
    JobCancelled,
    JobEvent,
    JobPaused,
    JobResumed,
    JobScheduled,
    JobSpec,
    NotifyUpstreamFinished,
    PauseJob,
    ResumeJob,
    Schedule,
    ScheduledRun,
    ScheduleEnded,
    ScheduleFired,
    ScheduleRunFinished,
    ScheduleSkipped,
    SkipReason,
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def is_recurring(schedule: Schedule | None) -> bool:
    return schedule is not None and schedule.at is None


def schedule_timer_id(job_id: str, due: datetime) -> str:
    """job_id plus the due time (in µs): every fire of a schedule has its own, deterministic id."""
    return f"{job_id}:fire:{(due - _EPOCH) // timedelta(microseconds=1)}"


def run_job_id_for(job_id: str, run_number: int) -> str:
    return f"{job_id}.r{run_number}"


def run_spec(parent: JobSpec, parent_job_id: str, run_number: int, due: datetime) -> JobSpec:
    """The spec of one run: the parent's, without its schedule, marked as the parent's run."""
    return replace(parent, schedule=None, idempotency_key=None,
                   run_of=ScheduledRun(parent_job_id=parent_job_id, run_number=run_number, due_at=due))


def schedule_problem(spec: JobSpec, now: datetime) -> str | None:
    """Why a submitted schedule cannot be accepted, or None."""
    schedule = spec.schedule
    if schedule is None:
        return None
    problems = validate_schedule(schedule)
    if problems:
        return "; ".join(f"{field}: {problem}" for field, problem in problems)
    if spec.run_of is not None:
        return "schedule: a run of a recurring job cannot have a schedule of its own"
    if is_recurring(schedule) and next_fire(schedule, now, now) is None:
        return "schedule: it never fires after now (end_at has passed)"
    return None


def submit_scheduled(state: JobState, schedule: Schedule, emit: Emitter) -> list[JobEvent]:
    """After JobSubmitted: wait for the first fire, or run at once (a one-shot time already past)."""
    if is_recurring(schedule):
        return schedule_next(schedule, emit, after=emit.now, anchor=emit.now, runs=0)
    assert schedule.at is not None
    if schedule.at > emit.now:
        emit(JobScheduled, next_run_at=schedule.at.astimezone(UTC))
        return emit.events
    return queue(state, emit, attempt=state.attempt + 1)


def schedule_next(schedule: Schedule, emit: Emitter, after: datetime, anchor: datetime, runs: int) -> list[JobEvent]:
    """Wait for the next fire strictly after ``after``, or end the schedule."""
    if schedule.max_runs is not None and runs >= schedule.max_runs:
        emit(ScheduleEnded, reason=f"max_runs ({schedule.max_runs}) reached", runs=runs)
    elif (due := next_fire(schedule, after, anchor)) is None:
        emit(ScheduleEnded, reason="no fire left before end_at", runs=runs)
    else:
        emit(JobScheduled, next_run_at=due)
    return emit.events


def fire(state: JobState, command: FireTimer, emit: Emitter) -> list[JobEvent]:
    """Only the fire the job waits for decides anything; a repeat or a superseded one leaves no event."""
    spec = state.spec
    if state.status != Status.SCHEDULED or state.next_run_at is None or spec is None or spec.schedule is None:
        return []
    if command.timer_id != schedule_timer_id(state.job_id, state.next_run_at):
        return []
    if not is_recurring(spec.schedule):
        if state.attempt != 0:
            return []
        return _one_shot_due(state, state.next_run_at, emit, max(emit.now, command.due_at), None)
    # Never plan before the fire's own due time, even if this clock lags the timer processor's.
    return _fire_due(state, spec.schedule, emit, now=max(emit.now, command.due_at))


def _fire_due(state: JobState, schedule: Schedule, emit: Emitter, now: datetime,
              skipped_while: SkipReason | None = None) -> list[JobEvent]:
    """Fire or skip every due time in (last_due, now], then wait for the next one."""
    anchor = state.schedule_anchor or now
    active, runs = list(state.active_runs), state.runs
    for decision in plan_fires(schedule, state.last_due, now, anchor, runs):
        if not decision.run:
            reason = skipped_while if skipped_while and decision.reason == SkipReason.MISFIRE else decision.reason
            emit(ScheduleSkipped, due_at=decision.due, reason=reason)
            continue
        action, overlap = overlap_decision(schedule.concurrency, bool(active))
        if action == "skip":
            emit(ScheduleSkipped, due_at=decision.due, reason=overlap)
            continue
        runs += 1
        run_id = run_job_id_for(state.job_id, runs)
        replaced = active if action == "replace" else []
        emit(ScheduleFired, due_at=decision.due, run_number=runs, run_job_id=run_id, replaces=replaced)
        active = [run for run in active if run not in replaced] + [run_id]
    return schedule_next(schedule, emit, after=now, anchor=anchor, runs=runs)


def pause(state: JobState, command: PauseJob, emit: Emitter) -> list[JobEvent]:
    schedule = state.spec.schedule if state.spec else None
    if state.status != Status.SCHEDULED or schedule is None or (not is_recurring(schedule) and state.attempt):
        return emit.reject(f"only a job waiting for its schedule can be paused; this one is {state.status}")
    emit(JobPaused)
    return emit.events


def resume(state: JobState, command: ResumeJob, emit: Emitter) -> list[JobEvent]:
    if state.status != Status.PAUSED or state.spec is None or state.spec.schedule is None:
        return emit.reject(f"only a paused job can be resumed; this one is {state.status}")
    schedule = state.spec.schedule
    emit(JobResumed, next_run_at=None)
    if is_recurring(schedule):
        return _fire_due(state, schedule, emit, now=emit.now, skipped_while=SkipReason.PAUSED)
    return _resume_one_shot(state, schedule, emit)


def _resume_one_shot(state: JobState, schedule: Schedule, emit: Emitter) -> list[JobEvent]:
    assert schedule.at is not None
    if schedule.at > emit.now:
        emit(JobScheduled, next_run_at=schedule.at.astimezone(UTC))
        return emit.events
    return _one_shot_due(state, schedule.at.astimezone(UTC), emit, emit.now, SkipReason.PAUSED)


def _one_shot_due(state: JobState, due: datetime, emit: Emitter, now: datetime,
                  skipped_while: SkipReason | None) -> list[JobEvent]:
    """A one-shot's time has come (late, perhaps): it runs, or its misfire policy or starting
    deadline skips it, and with it the job's only run."""
    assert state.spec is not None and state.spec.schedule is not None
    (decision,) = misfire_decisions(state.spec.schedule, [due], now)
    if decision.run:
        emit(ScheduleFired, due_at=decision.due, run_number=1)
        return queue(state, emit, attempt=1)
    reason = skipped_while if skipped_while and decision.reason == SkipReason.MISFIRE else decision.reason
    emit(ScheduleSkipped, due_at=decision.due, reason=reason)
    emit(JobCancelled, reason=f"its one run, due at {decision.due.isoformat()}, was skipped ({reason})")
    return emit.events


def schedule_change_problem(state: JobState, new: Schedule) -> str | None:
    """Why a PATCH of the schedule is refused, or None."""
    problems = validate_schedule(new)
    if problems:
        return "; ".join(f"{field}: {problem}" for field, problem in problems)
    old = state.spec.schedule if state.spec else None
    if old is None:
        return "schedule: only a job submitted with a schedule can change it"
    if state.status not in (Status.SCHEDULED, Status.PAUSED):
        return f"schedule: a job that is {state.status} cannot change its schedule"
    if is_recurring(old) != is_recurring(new):
        return "schedule: a recurring schedule cannot become one-shot, nor the reverse; submit a new job"
    if not is_recurring(old) and state.attempt:
        return "schedule: this one-shot job has already run"
    return None


def rearm(state: JobState, new: Schedule, emit: Emitter) -> list[JobEvent]:
    """After JobUpdated with a new schedule: next_run_at recomputed from now (on resume, if paused)."""
    if state.status == Status.PAUSED:
        return emit.events
    if is_recurring(new):
        return schedule_next(new, emit, after=emit.now, anchor=emit.now, runs=state.runs)
    return submit_scheduled(state, new, emit)


def run_finished(state: JobState, command: NotifyUpstreamFinished, emit: Emitter) -> list[JobEvent]:
    """One of this job's runs ended: it no longer counts as active."""
    if command.upstream_job_id not in state.active_runs:
        return []
    emit(ScheduleRunFinished, run_job_id=command.upstream_job_id, status=command.upstream_status)
    return emit.events

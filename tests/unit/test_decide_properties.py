"""Properties of decide/evolve over arbitrary command sequences (hypothesis)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from jobstream.core.decide import decide, retry_timer_id
from jobstream.core.scheduling import schedule_timer_id
from jobstream.core.state import JobState, Status, evolve, fold
from jobstream.schemas import (
    AssignJob,
    CancelJob,
    Command,
    ConcurrencyPolicy,
    ExpireExecution,
    FireTimer,
    NotifyUpstreamFinished,
    Outcome,
    PauseJob,
    ReportFinished,
    ReportProgress,
    ReportStarted,
    ResumeJob,
    RetryJob,
    ReturnAssignment,
    Schedule,
    SubmitJob,
    TimerPurpose,
)
from tests.unit.builders import T0, command, retrying, spec

S = Status
ALLOWED: dict[Status | None, set[Status | None]] = {
    None: {None, S.PENDING},
    S.PENDING: {S.PENDING, S.QUEUED, S.SCHEDULED, S.CANCELLED},
    S.SCHEDULED: {S.SCHEDULED, S.QUEUED, S.CANCELLED, S.PAUSED, S.COMPLETED},  # completed: ScheduleEnded
    S.PAUSED: {S.PAUSED, S.SCHEDULED, S.CANCELLED},
    S.QUEUED: {S.QUEUED, S.ASSIGNED, S.CANCELLED},
    S.ASSIGNED: {S.ASSIGNED, S.RUNNING, S.COMPLETED, S.FAILED, S.SCHEDULED, S.QUEUED, S.CANCELLED},
    S.RUNNING: {S.RUNNING, S.COMPLETED, S.FAILED, S.SCHEDULED, S.QUEUED, S.CANCELLED},
    S.FAILED: {S.FAILED, S.QUEUED},
    S.COMPLETED: {S.COMPLETED},
    S.CANCELLED: {S.CANCELLED},
}

KINDS = ["submit", "submit_at", "submit_every", "assign", "start", "progress", "finish", "cancel", "expire", "fire",
         "fire_at", "pause", "resume", "run_ended", "retry", "return"]
CONCURRENCY = list(ConcurrencyPolicy)
recipes = st.lists(
    st.tuples(st.sampled_from(KINDS), st.integers(-1, 1), st.sampled_from(list(Outcome)),
              st.sampled_from([0, 1, 3]), st.booleans()),
    max_size=30,
)


def build(kind: str, state: JobState, offset: int, outcome: Outcome, code: int, with_retry: bool) -> Command:
    attempt = max(state.attempt + offset, 0)
    execution = f"{state.job_id}.{attempt}"
    lease: dict[str, Any] = dict(execution_id=execution, attempt=attempt, worker_id="w1")
    match kind:
        case "submit":
            return command(SubmitJob, spec=spec(retry=retrying(3) if with_retry else None))
        case "assign":
            return command(AssignJob, **lease)
        case "start":
            return command(ReportStarted, **lease)
        case "progress":
            return command(ReportProgress, percent=50.0, **lease)
        case "finish":
            return command(ReportFinished, outcome=outcome, exit_code=code, **lease)
        case "cancel":
            return command(CancelJob)
        case "expire":
            return command(ExpireExecution, reason="worker lost", **lease)
        case "return":
            return command(ReturnAssignment, reason="no free slot", **lease)
        case "submit_at":
            return command(SubmitJob, spec=spec(schedule=Schedule(at=T0 + timedelta(seconds=offset + 5))))
        case "fire":
            return command(FireTimer, timer_id=retry_timer_id(state.job_id, attempt + 1), due_at=T0,
                           purpose=TimerPurpose.RETRY)
        case "submit_every":
            schedule = Schedule(every_s=1 + offset % 3, concurrency=CONCURRENCY[code % 3])
            return command(SubmitJob, spec=spec(schedule=schedule))
        case "fire_at":
            due = state.next_run_at or T0
            return command(FireTimer, timer_id=schedule_timer_id(state.job_id, due), due_at=due,
                           purpose=TimerPurpose.SCHEDULE)
        case "pause":
            return command(PauseJob)
        case "resume":
            return command(ResumeJob)
        case "run_ended":
            return command(NotifyUpstreamFinished, upstream_job_id=f"{state.job_id}.r{max(state.runs, 1)}",
                           upstream_status="completed")
        case _:
            return command(RetryJob)


@settings(max_examples=300, deadline=None)
@given(recipes)
def test_no_command_sequence_yields_an_illegal_transition(steps: list[tuple[Any, ...]]) -> None:
    state = JobState("job-1")
    now = T0
    for kind, offset, outcome, code, with_retry in steps:
        now += timedelta(seconds=1)
        events = decide(state, build(kind, state, offset, outcome, code, with_retry), now)
        for event in events:
            before = state.status
            state = evolve(state, event)  # raises on a sequence gap
            assert state.status in ALLOWED[before], f"{before} -> {state.status} via {event.envelope.type}"
            assert state.attempt >= 0 and state.seq == event.envelope.seq


@settings(max_examples=300, deadline=None)
@given(recipes)
def test_folding_the_events_rebuilds_the_state_and_redelivery_is_a_no_op(steps: list[tuple[Any, ...]]) -> None:
    state = JobState("job-1")
    history = []
    for kind, offset, outcome, code, with_retry in steps:
        cmd = build(kind, state, offset, outcome, code, with_retry)
        events = decide(state, cmd, T0)
        for event in events:
            state = evolve(state, event)
        history.extend(events)
        if events:
            assert decide(state, cmd, T0) == [], "a redelivered command must change nothing"
    assert fold("job-1", history) == state
    assert [e.envelope.seq for e in history] == list(range(1, len(history) + 1))
    assert len({e.envelope.event_id for e in history}) == len(history)


@settings(max_examples=300, deadline=None)
@given(recipes, st.data())
def test_a_decision_cut_short_by_a_crash_is_completed_by_its_redelivered_command(
        steps: list[tuple[Any, ...]], data: st.DataObject) -> None:
    """Fold only the first k events of a decision (the crash), then redeliver its command later:
    exactly the lost events follow, identical to the originals; a complete decision leaves no mark."""
    state = JobState("job-1")
    now = T0
    for kind, offset, outcome, code, with_retry in steps:
        now += timedelta(seconds=1)
        cmd = build(kind, state, offset, outcome, code, with_retry)
        events = decide(state, cmd, now)
        if len(events) > 1:
            kept = data.draw(st.integers(1, len(events) - 1))
            cut = state
            for event in events[:kept]:
                cut = evolve(cut, event)
            assert cut.incomplete is not None
            assert decide(cut, cmd, now + timedelta(minutes=5)) == events[kept:]
        for event in events:
            state = evolve(state, event)
        assert state.incomplete is None
        assert decide(state, cmd, now) == [], "a complete decision is not decided again"


@settings(max_examples=300, deadline=None)
@given(recipes, st.sampled_from(KINDS), st.sampled_from(list(Outcome)))
def test_a_settled_jobs_tombstone_answers_every_later_command_as_the_full_state_does(
        steps: list[tuple[Any, ...]], late: str, outcome: Outcome) -> None:
    """Once completed or cancelled, a job can be slimmed to its tombstone: any later command (a new
    id) decides the same events on it as on the full state, and it is a small part of the size."""
    import pickle

    from jobstream.core.state import SETTLED, tombstone

    state = JobState("job-1")
    for kind, offset, outcome_, code, with_retry in steps:
        for event in decide(state, build(kind, state, offset, outcome_, code, with_retry), T0):
            state = evolve(state, event)
    if state.status not in SETTLED or state.active_runs:  # a cancelled parent still hears of its runs
        return
    slim = tombstone(state)
    cmd = build(late, state, 0, outcome, 1, False)
    assert decide(slim, cmd, T0) == decide(state, cmd, T0)
    assert len(pickle.dumps(slim)) < len(pickle.dumps(state))

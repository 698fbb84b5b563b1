"""Which events arm and disarm timers, and which of those changes a decision sends (``core/timers.py``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hypothesis import given, settings

from jobstream.core.decide import decide, retry_timer_id
from jobstream.core.scheduling import schedule_timer_id
from jobstream.core.state import JobState, evolve
from jobstream.core.timers import timer_change, timer_changes
from jobstream.schemas import (
    AssignJob,
    CancelJob,
    Envelope,
    FireTimer,
    JobCancelled,
    JobCompleted,
    JobFailed,
    JobPaused,
    JobQueued,
    JobResumed,
    JobRetryScheduled,
    JobScheduled,
    JobStarted,
    Outcome,
    ReportFinished,
    ReportStarted,
    Schedule,
    ScheduleEnded,
    SubmitJob,
    TimerChange,
    TimerPurpose,
)
from tests.unit.builders import T0, command, retrying, spec
from tests.unit.test_decide_properties import build, recipes


def envelope(seq: int = 1) -> Envelope:
    return Envelope(event_id=f"j:{seq}", job_id="j", seq=seq, type="x", occurred_at=T0, actor="test")


def test_a_retry_arms_a_timer_named_after_its_attempt() -> None:
    due = T0 + timedelta(seconds=4)
    change = timer_change(JobRetryScheduled(envelope=envelope(), next_attempt=3, retry_at=due, backoff_ms=4000))
    assert change is not None
    [timer] = change.arm
    assert (change.job_id, timer.timer_id, timer.due_at, timer.purpose) == ("j", retry_timer_id("j", 3), due,
                                                                          TimerPurpose.RETRY)
    assert change.caused_by == "j:1" and not change.disarm_job


def test_the_queued_attempt_disarms_its_retry_timer() -> None:
    change = timer_change(JobQueued(envelope=envelope(), queue="q", priority=5, attempt=3, execution_id="j.3"))
    assert change == TimerChange(job_id="j", disarm=[retry_timer_id("j", 3)], caused_by="j:1")


def test_the_end_of_the_job_disarms_everything_and_other_events_nothing() -> None:
    for event in (JobCancelled(envelope=envelope(), reason="x"), JobCompleted(envelope=envelope(), execution_id="j.1",
                  attempt=1), JobFailed(envelope=envelope(), execution_id="j.1", attempt=1, outcome=Outcome.FAILED,
                                         final=True)):
        assert timer_change(event) == TimerChange(job_id="j", disarm_job=True, caused_by="j:1")
    not_final = JobFailed(envelope=envelope(), execution_id="j.1", attempt=1, outcome=Outcome.FAILED, final=False)
    assert timer_change(not_final) is None
    assert timer_change(JobStarted(envelope=envelope(), execution_id="j.1", attempt=1, worker_id="w")) is None


def test_a_schedule_arms_its_next_fire_alone_and_a_pause_or_its_end_disarms_it() -> None:
    due = T0 + timedelta(minutes=5)
    for event in (JobScheduled(envelope=envelope(), next_run_at=due), JobResumed(envelope=envelope(), next_run_at=due)):
        change = timer_change(event)
        assert change is not None
        [timer] = change.arm
        assert change.disarm_job, "an earlier fire (before a PATCH) must not stay armed"
        assert (timer.timer_id, timer.due_at, timer.purpose) == (schedule_timer_id("j", due), due,
                                                                 TimerPurpose.SCHEDULE)
    assert timer_change(JobResumed(envelope=envelope(), next_run_at=None)) is None
    for ending in (JobPaused(envelope=envelope()), ScheduleEnded(envelope=envelope(), reason="max_runs", runs=3)):
        assert timer_change(ending) == TimerChange(job_id="j", disarm_job=True, caused_by="j:1")


def run(state: JobState, cmd, now=T0) -> tuple[JobState, list[TimerChange]]:  # type: ignore[no-untyped-def]
    """The decision's changes, the same whether timer_changes folds the states or is given them."""
    events = decide(state, cmd, now)
    changes = timer_changes(state, events)
    states = [state]
    for event in events:
        states.append(evolve(states[-1], event))
    assert timer_changes(state, events, states) == changes
    return states[-1], changes


def test_a_plain_job_sends_no_timer_change_at_all() -> None:
    state, sent = run(JobState("j"), command(SubmitJob, job_id="j", spec=spec()))
    lease: dict[str, Any] = {"execution_id": "j.1", "attempt": 1, "worker_id": "w1"}
    for cmd in (command(AssignJob, job_id="j", **lease), command(ReportStarted, job_id="j", **lease),
                command(ReportFinished, job_id="j", outcome=Outcome.SUCCEEDED, exit_code=0, **lease)):
        state, more = run(state, cmd)
        sent += more
    assert sent == []


def test_a_retry_arms_then_its_fire_disarms_and_a_cancel_while_scheduled_disarms_everything() -> None:
    state, _ = run(JobState("j"), command(SubmitJob, job_id="j", spec=spec(retry=retrying(3))))
    lease: dict[str, Any] = {"execution_id": "j.1", "attempt": 1, "worker_id": "w1"}
    state, _ = run(state, command(ReportStarted, job_id="j", **lease))
    state, armed = run(state, command(ReportFinished, job_id="j", outcome=Outcome.FAILED, exit_code=1, **lease))
    assert [len(c.arm) for c in armed] == [1]
    _, fired = run(state, command(FireTimer, job_id="j", timer_id=retry_timer_id("j", 2), due_at=T0,
                                  purpose=TimerPurpose.RETRY))
    assert fired == [TimerChange(job_id="j", disarm=[retry_timer_id("j", 2)], caused_by=fired[0].caused_by)]
    _, cancelled = run(state, command(CancelJob, job_id="j"))
    assert [c.disarm_job for c in cancelled] == [True]


def test_a_scheduled_job_arms_at_submission() -> None:
    _, sent = run(JobState("j"), command(SubmitJob, job_id="j", spec=spec(schedule=Schedule(every_s=60))))
    assert [len(c.arm) for c in sent] == [1] and sent[0].arm[0].purpose == TimerPurpose.SCHEDULE


@settings(max_examples=300, deadline=None)
@given(recipes)
def test_changes_given_the_folded_states_are_the_changes_folded_here(steps: list[tuple[Any, ...]]) -> None:
    """The state processor hands over the states it folded; any decision sends the same changes."""
    state = JobState("job-1")
    for kind, offset, outcome, code, with_retry in steps:
        state, _ = run(state, build(kind, state, offset, outcome, code, with_retry))

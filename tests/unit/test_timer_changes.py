"""Which events arm and disarm timers (the timer processor's pure part)."""

from __future__ import annotations

from datetime import timedelta

from jobstream.core.decide import retry_timer_id
from jobstream.schemas import (
    Envelope, JobCancelled, JobCompleted, JobFailed, JobQueued, JobRetryScheduled, JobStarted, Outcome, TimerPurpose,
)
from jobstream.streams.timer_processor import WheelChange, timers_for
from tests.unit.builders import T0


def envelope(seq: int = 1) -> Envelope:
    return Envelope(event_id=f"j:{seq}", job_id="j", seq=seq, type="x", occurred_at=T0, actor="test")


def test_a_retry_arms_a_timer_named_after_its_attempt() -> None:
    due = T0 + timedelta(seconds=4)
    change = timers_for(JobRetryScheduled(envelope=envelope(), next_attempt=3, retry_at=due, backoff_ms=4000))
    [timer] = change.arm
    assert (timer.timer_id, timer.job_id, timer.due, timer.purpose) == (retry_timer_id("j", 3), "j", due,
                                                                         TimerPurpose.RETRY)


def test_the_queued_attempt_disarms_its_retry_timer() -> None:
    change = timers_for(JobQueued(envelope=envelope(), queue="q", priority=5, attempt=3, execution_id="j.3"))
    assert change == WheelChange(disarm=(retry_timer_id("j", 3),))


def test_the_end_of_the_job_disarms_everything_and_other_events_nothing() -> None:
    for event in (JobCancelled(envelope=envelope(), reason="x"), JobCompleted(envelope=envelope(), execution_id="j.1",
                  attempt=1), JobFailed(envelope=envelope(), execution_id="j.1", attempt=1, outcome=Outcome.FAILED,
                                         final=True)):
        assert timers_for(event) == WheelChange(disarm_job=True)
    not_final = JobFailed(envelope=envelope(), execution_id="j.1", attempt=1, outcome=Outcome.FAILED, final=False)
    assert timers_for(not_final) == WheelChange()
    assert timers_for(JobStarted(envelope=envelope(), execution_id="j.1", attempt=1, worker_id="w")) == WheelChange()


def test_a_schedule_arms_its_next_fire_alone_and_a_pause_or_its_end_disarms_it() -> None:
    from jobstream.core.scheduling import schedule_timer_id
    from jobstream.schemas import JobPaused, JobResumed, JobScheduled, ScheduleEnded

    due = T0 + timedelta(minutes=5)
    for event in (JobScheduled(envelope=envelope(), next_run_at=due), JobResumed(envelope=envelope(), next_run_at=due)):
        change = timers_for(event)
        [timer] = change.arm
        assert change.disarm_job, "an earlier fire (before a PATCH) must not stay armed"
        assert (timer.timer_id, timer.due, timer.purpose) == (schedule_timer_id("j", due), due, TimerPurpose.SCHEDULE)
    assert timers_for(JobResumed(envelope=envelope(), next_run_at=None)) == WheelChange()
    for ending in (JobPaused(envelope=envelope()), ScheduleEnded(envelope=envelope(), reason="max_runs", runs=3)):
        assert timers_for(ending) == WheelChange(disarm_job=True)

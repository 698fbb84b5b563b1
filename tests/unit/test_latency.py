"""A job's stage latencies are read off its decisions: queued -> running, the run, submitted -> done."""

from __future__ import annotations

from datetime import timedelta

from jobstream.core.decide import decide, retry_timer_id
from jobstream.core.dispatch import DispatchBoard
from jobstream.core.latency import Stage, finished_results, stage_latencies
from jobstream.core.state import JobState, evolve
from jobstream.schemas import FireTimer, JobReady, Outcome, ReportFinished, ReportStarted, SubmitJob, TimerPurpose
from tests.unit.builders import T0, command, retrying, spec


def step(state: JobState, cmd, seconds: float) -> tuple[JobState, list[tuple[Stage, float]]]:  # type: ignore[no-untyped-def]
    events = decide(state, cmd, T0 + timedelta(seconds=seconds))
    stages = stage_latencies(state, events)
    for event in events:
        state = evolve(state, event)
    return state, stages


def started(state: JobState, at_s: float) -> tuple[JobState, list[tuple[Stage, float]]]:
    return step(state, command(ReportStarted, execution_id=state.execution_id, attempt=state.attempt,
                               worker_id="w1"), at_s)


def finished(state: JobState, outcome: Outcome, at_s: float) -> tuple[JobState, list[tuple[Stage, float]]]:
    return step(state, command(ReportFinished, execution_id=state.execution_id or "", worker_id="w1",
                               attempt=state.attempt, outcome=outcome, exit_code=0, duration_ms=1500), at_s)


def test_a_job_s_scheduling_latency_run_and_turnaround() -> None:
    state, stages = step(JobState("job-1"), command(SubmitJob, spec=spec()), 0)
    assert stages == []
    state, stages = started(state, 0.25)
    assert stages == [(Stage.SCHEDULING, 0.25)]
    _, stages = finished(state, Outcome.SUCCEEDED, 2.0)
    assert stages == [(Stage.RUN, 1.5), (Stage.TURNAROUND, 2.0)]


def test_only_a_job_s_last_failure_counts_as_a_failed_job() -> None:
    state, _ = step(JobState("job-1"), command(SubmitJob, spec=spec(retry=retrying(2))), 0)
    results = []
    for attempt_s in (1.0, 10.0):
        state, _ = started(state, attempt_s)
        events = decide(state, command(ReportFinished, execution_id=state.execution_id or "", worker_id="w1",
                                       attempt=state.attempt, outcome=Outcome.FAILED, exit_code=1),
                        T0 + timedelta(seconds=attempt_s + 1))
        results.append(finished_results(events))
        for event in events:
            state = evolve(state, event)
        if attempt_s == 1.0:  # the retry's timer fires: queued again
            state, _ = step(state, command(FireTimer, timer_id=retry_timer_id("job-1", 2), due_at=T0,
                                           purpose=TimerPurpose.RETRY), 5.0)
    assert results == [[], ["failed"]]


def test_a_failure_that_will_be_retried_has_a_run_but_no_turnaround() -> None:
    state, _ = step(JobState("job-1"), command(SubmitJob, spec=spec(retry=retrying(3))), 0)
    state, _ = started(state, 1)
    _, stages = finished(state, Outcome.FAILED, 3)
    assert stages == [(Stage.RUN, 1.5)]


def test_queue_depth_and_the_oldest_ready_age_per_queue() -> None:
    board = DispatchBoard()
    for job_id, queue, at_s in [("a", "q1", 0), ("b", "q1", 5), ("c", "q2", 8)]:
        board.add(JobReady(job_id=job_id, execution_id=f"{job_id}.1", attempt=1, queue=queue, priority=5,
                           spec=spec(queue=queue), enqueued_at=T0 + timedelta(seconds=at_s)))
    assert board.depths(T0 + timedelta(seconds=10)) == {"q1": (2, 10.0), "q2": (1, 2.0)}

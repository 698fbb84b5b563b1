"""decide/evolve by example: each command's effect, rejections, fencing and retries."""

from __future__ import annotations

from datetime import timedelta

from jobstream.core.decide import decide, retry_timer_id
from jobstream.core.state import JobState, Status, evolve, fold
from jobstream.schemas import (
    AssignJob,
    CancelJob,
    CommandRejected,
    ExpireExecution,
    FireTimer,
    JobAssigned,
    JobCancelled,
    JobCompleted,
    JobDeadLettered,
    JobEvent,
    JobFailed,
    JobQueued,
    JobRetryScheduled,
    JobStarted,
    JobSubmitted,
    Outcome,
    ReportFinished,
    ReportRejected,
    ReportStarted,
    RetryJob,
    SubmitJob,
    TimerPurpose,
)
from tests.unit.builders import T0, command, retrying, spec


def run(state: JobState, cmd, now=T0) -> tuple[JobState, list]:  # type: ignore[no-untyped-def]
    events = decide(state, cmd, now)
    for event in events:
        state = evolve(state, event)
    return state, events


def submitted(**spec_fields) -> JobState:  # type: ignore[no-untyped-def]
    state, _ = run(JobState("job-1"), command(SubmitJob, spec=spec(**spec_fields)))
    return state


def running(**spec_fields) -> JobState:  # type: ignore[no-untyped-def]
    state = submitted(**spec_fields)
    state, _ = run(state, command(AssignJob, execution_id=state.execution_id, attempt=state.attempt, worker_id="w1"))
    state, _ = run(state, command(ReportStarted, execution_id=state.execution_id, attempt=state.attempt,
                                  worker_id="w1"))
    return state


def finish(state: JobState, outcome: Outcome, exit_code: int | None = 0, attempt: int | None = None):  # type: ignore[no-untyped-def]
    return run(state, command(ReportFinished, execution_id=state.execution_id or "", worker_id=state.worker_id or "w1",
                              attempt=state.attempt if attempt is None else attempt,
                              outcome=outcome, exit_code=exit_code))


def test_submit_queues_the_first_attempt_with_deterministic_ids() -> None:
    state, events = run(JobState("job-1"), command(SubmitJob, spec=spec(queue="q", priority=2)))
    assert [type(e) for e in events] == [JobSubmitted, JobQueued]
    assert [e.envelope.seq for e in events] == [1, 2]
    assert [e.envelope.event_id for e in events] == ["job-1:1", "job-1:2"]
    queued = events[1]
    assert (queued.queue, queued.priority, queued.attempt, queued.execution_id) == ("q", 2, 1, "job-1.1")
    assert state.status == Status.QUEUED and state.tries == 1


def test_a_redelivered_command_changes_nothing() -> None:
    cmd = command(SubmitJob, spec=spec())
    state, _ = run(JobState("job-1"), cmd)
    assert decide(state, cmd, T0 + timedelta(seconds=5)) == []


def test_invalid_spec_is_rejected_with_the_field_named() -> None:
    _, events = run(JobState("job-1"), command(SubmitJob, spec=spec(priority=11)))
    assert len(events) == 1 and isinstance(events[0], CommandRejected)
    assert "priority" in events[0].reason


def test_commands_for_an_unknown_job_are_rejected() -> None:
    _, events = run(JobState("nope"), command(CancelJob, job_id="nope"))
    assert isinstance(events[0], CommandRejected) and "does not exist" in events[0].reason


def test_happy_path_to_completed() -> None:
    state = running()
    assert state.status == Status.RUNNING and state.worker_id == "w1"
    state, events = finish(state, Outcome.SUCCEEDED)
    assert [type(e) for e in events] == [JobCompleted]
    assert state.status == Status.COMPLETED


def test_non_zero_exit_fails_with_code_and_no_retry_by_default() -> None:
    state, events = finish(running(), Outcome.FAILED, exit_code=3)
    assert [type(e) for e in events] == [JobFailed]
    assert events[0].final and events[0].exit_code == 3 and events[0].error == "exited with code 3"
    assert state.status == Status.FAILED


def test_cancelling_a_completed_job_is_rejected() -> None:
    state, _ = finish(running(), Outcome.SUCCEEDED)
    _, events = run(state, command(CancelJob))
    assert isinstance(events[0], CommandRejected) and "completed" in events[0].reason


def test_cancel_queued_then_late_assign_is_rejected() -> None:
    state, events = run(submitted(), command(CancelJob))
    assert isinstance(events[0], JobCancelled) and state.status == Status.CANCELLED
    _, events = run(state, command(AssignJob, execution_id="job-1.1", attempt=1, worker_id="w1"))
    assert isinstance(events[0], CommandRejected)


def test_an_expiry_naming_another_worker_ends_nothing() -> None:
    state = running()
    assert decide(state, command(ExpireExecution, execution_id="job-1.1", attempt=1, worker_id="w2",
                                 reason="worker lost"), T0) == []


def test_stale_report_is_rejected_and_never_overwrites_the_newer_attempt() -> None:
    state = running()
    state, events = run(state, command(ExpireExecution, execution_id="job-1.1", attempt=1, worker_id="w1",
                                       reason="worker lost"))
    assert [type(e) for e in events] == [JobFailed, JobQueued]
    assert state.attempt == 2 and state.status == Status.QUEUED
    state, events = finish(state, Outcome.SUCCEEDED, attempt=1)  # the frozen worker wakes up
    assert [type(e) for e in events] == [ReportRejected]
    assert events[0].current_attempt == 2 and "stale" in events[0].reason
    assert state.status == Status.QUEUED


def test_retry_waits_for_its_timer_then_dead_letters_after_the_last_attempt() -> None:
    state = running(retry=retrying(max_attempts=2, initial=10.0))
    state, events = finish(state, Outcome.FAILED, exit_code=1)
    assert [type(e) for e in events] == [JobFailed, JobRetryScheduled]
    assert not events[0].final
    assert T0 <= events[1].retry_at <= T0 + timedelta(seconds=10)
    assert state.status == Status.SCHEDULED

    timer = retry_timer_id("job-1", 2)
    fire = command(FireTimer, timer_id=timer, due_at=events[1].retry_at, purpose=TimerPurpose.RETRY)
    state, events = run(state, fire)
    assert [type(e) for e in events] == [JobQueued] and events[0].attempt == 2 and state.tries == 2
    _, repeat = run(state, command(FireTimer, timer_id=timer, due_at=T0, purpose=TimerPurpose.RETRY))
    assert repeat == []  # a repeated fire (another command id) decides nothing

    state, _ = run(state, command(AssignJob, execution_id="job-1.2", attempt=2, worker_id="w2"))
    state, _ = run(state, command(ReportStarted, execution_id="job-1.2", attempt=2, worker_id="w2"))
    state, events = finish(state, Outcome.FAILED, exit_code=1)
    assert [type(e) for e in events] == [JobFailed, JobDeadLettered]
    assert events[0].final and events[1].attempts == 2 and state.status == Status.FAILED


def test_manual_retry_of_a_failed_job_starts_a_new_run() -> None:
    state, _ = finish(running(), Outcome.FAILED, exit_code=1)
    state, events = run(state, command(RetryJob))
    assert isinstance(events[0], JobQueued) and events[0].attempt == 2
    assert state.status == Status.QUEUED and state.tries == 1


def test_fold_of_the_events_rebuilds_the_state() -> None:
    state = JobState("job-1")
    history = []
    for cmd in [command(SubmitJob, spec=spec()),
                command(AssignJob, execution_id="job-1.1", attempt=1, worker_id="w1"),
                command(ReportStarted, execution_id="job-1.1", attempt=1, worker_id="w1")]:
        state, events = run(state, cmd)
        history.extend(events)
    assert fold("job-1", history) == state
    assert isinstance(history[-1], JobStarted) and isinstance(history[2], JobAssigned)


def test_a_start_that_overtakes_the_assignment_assigns_and_the_late_assign_is_a_no_op() -> None:
    state = submitted()
    state, events = run(state, command(ReportStarted, execution_id="job-1.1", attempt=1, worker_id="w1"))
    assert [type(e) for e in events] == [JobAssigned, JobStarted]
    assert state.status == Status.RUNNING and state.worker_id == "w1"
    _, events = run(state, command(AssignJob, execution_id="job-1.1", attempt=1, worker_id="w1"))
    assert events == []


def test_an_assignment_later_than_the_whole_run_it_assigned_decides_nothing() -> None:
    # Given a job whose worker's start overtook the assignment, and which completed
    state, _ = run(submitted(), command(ReportStarted, execution_id="job-1.1", attempt=1, worker_id="w1"))
    state, _ = finish(state, Outcome.SUCCEEDED)
    assert state.status == Status.COMPLETED
    # When the dispatcher's assignment of that lease arrives at last, then no rejection is recorded
    assert decide(state, command(AssignJob, execution_id="job-1.1", attempt=1, worker_id="w1"), T0) == []
    # But an assignment of that lease to another worker is still a rejection, a real anomaly
    [rejected] = decide(state, command(AssignJob, execution_id="job-1.1", attempt=1, worker_id="w2"), T0)
    assert isinstance(rejected, CommandRejected) and "completed" in rejected.reason


def test_a_finish_that_overtakes_the_start_completes_the_job_and_the_late_start_decides_nothing() -> None:
    # Given a queued job whose worker's finish report arrives before its start report
    state, events = finish(submitted(), Outcome.SUCCEEDED)
    # Then the finish of the current lease proves the assignment and the start
    assert [type(e) for e in events] == [JobAssigned, JobStarted, JobCompleted]
    assert state.status == Status.COMPLETED and state.worker_id == "w1"
    # And the start, arriving at last, is neither rejected nor a cancellation for its worker
    assert decide(state, command(ReportStarted, execution_id="job-1.1", attempt=1, worker_id="w1"), T0) == []


def test_a_finish_of_an_assigned_job_whose_start_was_not_reported_starts_and_ends_it() -> None:
    # Given an assigned job whose worker ran it so briefly that it reported only the finish
    assigned, _ = run(submitted(), command(AssignJob, execution_id="job-1.1", attempt=1, worker_id="w1"))
    state, events = finish(assigned, Outcome.SUCCEEDED)
    # Then the history still says it started, then completed
    assert [type(e) for e in events] == [JobStarted, JobCompleted]
    assert events[0].worker_id == "w1" and state.status == Status.COMPLETED
    # But a finish from a worker that does not hold the lease proves nothing and is rejected
    [rejected] = decide(assigned, command(ReportFinished, execution_id="job-1.1", attempt=1, worker_id="w2",
                                          outcome=Outcome.SUCCEEDED), T0)
    assert isinstance(rejected, ReportRejected) and "held by worker w1" in rejected.reason


def test_the_log_records_a_worker_reports_are_carried_by_the_outcome_event() -> None:
    def ended(outcome: Outcome, log_records: int | None) -> JobEvent:
        state = running()
        report = command(ReportFinished, execution_id=state.execution_id or "", worker_id=state.worker_id or "w1",
                         attempt=state.attempt, outcome=outcome, exit_code=0, log_records=log_records)
        return run(state, report)[1][-1]

    completed, failed = ended(Outcome.SUCCEEDED, 0), ended(Outcome.FAILED, 3)
    assert isinstance(completed, JobCompleted) and completed.log_records == 0
    assert isinstance(failed, JobFailed) and failed.log_records == 3
    assert ended(Outcome.SUCCEEDED, None).log_records is None  # not said (an older worker): not known


def test_a_late_start_of_a_failed_lease_decides_nothing_but_a_superseded_lease_is_still_rejected() -> None:
    state, events = finish(running(retry=retrying(max_attempts=3)), Outcome.FAILED, exit_code=1)
    assert state.status == Status.SCHEDULED
    late_start = command(ReportStarted, execution_id="job-1.1", attempt=1, worker_id="w1")
    assert decide(state, late_start, T0) == []

    fire = command(FireTimer, timer_id=retry_timer_id("job-1", 2), due_at=events[1].retry_at,
                   purpose=TimerPurpose.RETRY)
    state, _ = run(state, fire)
    [rejected] = decide(state, command(ReportStarted, execution_id="job-1.1", attempt=1, worker_id="w1"), T0)
    assert isinstance(rejected, ReportRejected) and "stale lease" in rejected.reason


def test_a_one_shot_job_waits_for_its_time_then_runs_once() -> None:
    from jobstream.core.scheduling import schedule_timer_id
    from jobstream.schemas import JobScheduled, Schedule, ScheduleFired

    at = T0 + timedelta(seconds=2)
    state, events = run(JobState("job-1"), command(SubmitJob, spec=spec(schedule=Schedule(at=at))))
    assert [type(e) for e in events] == [JobSubmitted, JobScheduled] and events[1].next_run_at == at
    assert state.status == Status.SCHEDULED and state.attempt == 0

    fire = command(FireTimer, timer_id=schedule_timer_id("job-1", at), due_at=at, purpose=TimerPurpose.SCHEDULE)
    state, events = run(state, fire, now=at)
    assert [type(e) for e in events] == [ScheduleFired, JobQueued] and events[1].attempt == 1
    again = command(FireTimer, timer_id=schedule_timer_id("job-1", at), due_at=at, purpose=TimerPurpose.SCHEDULE)
    assert decide(state, again, at) == []  # a repeated fire runs nothing twice


def test_a_one_shot_in_the_past_runs_now_and_a_schedule_that_never_fires_is_refused() -> None:
    from jobstream.schemas import Schedule

    _, events = run(JobState("job-1"), command(SubmitJob, spec=spec(schedule=Schedule(at=T0 - timedelta(hours=1)))))
    assert [type(e) for e in events] == [JobSubmitted, JobQueued]
    over = Schedule(cron="* * * * *", end_at=T0 - timedelta(hours=1))
    _, events = run(JobState("job-2"), command(SubmitJob, job_id="job-2", spec=spec(schedule=over)))
    assert isinstance(events[0], CommandRejected) and "never fires" in events[0].reason


def test_cancelling_a_scheduled_job() -> None:
    from jobstream.schemas import Schedule

    state, _ = run(JobState("job-1"), command(SubmitJob, spec=spec(schedule=Schedule(at=T0 + timedelta(days=1)))))
    state, events = run(state, command(CancelJob))
    assert isinstance(events[0], JobCancelled) and state.status == Status.CANCELLED


def test_a_second_worker_holding_the_same_attempt_is_fenced_off() -> None:
    state = running()  # attempt 1 runs on w1
    _, events = run(state, command(ReportStarted, execution_id="job-1.1", attempt=1, worker_id="w2"))
    assert [type(e) for e in events] == [ReportRejected] and "held by worker w1" in events[0].reason
    state, events = run(state, command(ReportFinished, execution_id="job-1.1", attempt=1, worker_id="w2",
                                       outcome=Outcome.SUCCEEDED))
    assert [type(e) for e in events] == [ReportRejected] and state.status == Status.RUNNING


def test_a_start_after_a_cancel_is_rejected_so_the_worker_stops() -> None:
    state, _ = run(submitted(), command(CancelJob))
    _, events = run(state, command(ReportStarted, execution_id="job-1.1", attempt=1, worker_id="w1"))
    assert [type(e) for e in events] == [ReportRejected] and events[0].reason == "job is cancelled"
    _, events = run(state, command(ReportFinished, execution_id="job-1.1", attempt=1, worker_id="w1",
                                   outcome=Outcome.CANCELLED))
    assert events == []  # its final report is expected: nothing to say

"""A worker hands back an assignment it has no room for: the next attempt is queued, no try used."""

from __future__ import annotations

from jobstream.core.decide import decide
from jobstream.core.state import JobState, Status
from jobstream.schemas import (
    AssignJob,
    CommandRejected,
    ExpireExecution,
    JobQueued,
    JobReturned,
    Outcome,
    ReportRejected,
    ReportStarted,
    ReturnAssignment,
)
from tests.unit.builders import T0, command, retrying
from tests.unit.test_decide import finish, run, submitted


def assigned(worker_id: str = "w1", **spec_fields) -> JobState:  # type: ignore[no-untyped-def]
    state = submitted(**spec_fields)
    state, _ = run(state, command(AssignJob, execution_id=state.execution_id, attempt=state.attempt,
                                  worker_id=worker_id))
    return state


def give_back(state: JobState, worker_id: str = "w1", attempt: int = 1) -> tuple[JobState, list]:  # type: ignore[type-arg]
    return run(state, command(ReturnAssignment, execution_id=f"job-1.{attempt}", attempt=attempt,
                              worker_id=worker_id, reason="no free slot (1 of 1 in use)"))


def test_a_returned_assignment_queues_the_next_attempt_without_using_a_try() -> None:
    state, events = give_back(assigned())
    assert [type(e) for e in events] == [JobReturned, JobQueued]
    assert events[0].reason == "no free slot (1 of 1 in use)" and events[0].worker_id == "w1"
    assert (events[1].attempt, events[1].execution_id) == (2, "job-1.2")
    assert state.status == Status.QUEUED and state.attempt == 2 and state.tries == 1 and state.worker_id is None


def test_returns_never_exhaust_the_retry_policy() -> None:
    state = assigned(retry=retrying(max_attempts=2))
    for attempt in range(1, 6):
        state, _ = give_back(state, attempt=attempt)
        state, _ = run(state, command(AssignJob, execution_id=state.execution_id, attempt=state.attempt,
                                      worker_id="w1"))
    assert state.tries == 1 and state.attempt == 6
    state, events = finish(state, Outcome.FAILED, exit_code=1)
    assert state.status == Status.SCHEDULED  # the first real failure still has its retry


def test_a_return_that_overtakes_the_assign_still_requeues_and_the_late_assign_is_refused() -> None:
    state, events = give_back(submitted())
    assert [type(e) for e in events] == [JobReturned, JobQueued]
    _, events = run(state, command(AssignJob, execution_id="job-1.1", attempt=1, worker_id="w1"))
    assert [type(e) for e in events] == [CommandRejected]


def test_a_repeated_or_stale_return_decides_nothing() -> None:
    state, _ = give_back(assigned())
    assert decide(state, command(ReturnAssignment, execution_id="job-1.1", attempt=1, worker_id="w1",
                                 reason="again"), T0) == []


def test_a_return_from_a_worker_that_does_not_hold_the_lease_decides_nothing() -> None:
    state = assigned(worker_id="w2")
    assert give_back(state, worker_id="w1")[1] == []
    assert state.status == Status.ASSIGNED


def test_a_started_execution_cannot_be_returned_and_a_late_start_of_a_returned_one_is_fenced() -> None:
    state = assigned()
    started, _ = run(state, command(ReportStarted, execution_id="job-1.1", attempt=1, worker_id="w1"))
    assert give_back(started)[1] == []
    returned, _ = give_back(state)
    _, events = run(returned, command(ReportStarted, execution_id="job-1.1", attempt=1, worker_id="w3"))
    assert [type(e) for e in events] == [ReportRejected]


def test_a_worker_lost_before_it_started_its_assignment_gives_the_job_back_without_using_a_try() -> None:
    # Given a queued job whose assignment (unrecorded until its start) went to a worker that was lost
    state = submitted(retry=retrying(max_attempts=2))
    state, events = run(state, command(ExpireExecution, execution_id="job-1.1", attempt=1, worker_id="w1",
                                       reason="worker w1 lost"))
    # Then the next attempt is queued, and the first still has all its tries
    assert [type(e) for e in events] == [JobReturned, JobQueued] and events[0].reason == "worker w1 lost"
    assert (state.status, state.attempt, state.tries) == (Status.QUEUED, 2, 1)

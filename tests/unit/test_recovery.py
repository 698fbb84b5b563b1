"""Recovery after a crash: the decisions found on the topic past the changelog."""

from __future__ import annotations

from jobstream.core.decide import decide
from jobstream.core.state import JobState, Status, evolve
from jobstream.schemas import AssignJob, SubmitJob
from jobstream.streams.recovery import fold_recovered
from tests.unit.builders import T0, command, spec


def test_recovered_events_are_grouped_by_decision_and_duplicates_skipped() -> None:
    state = JobState("job-1")
    submit = command(SubmitJob, spec=spec())
    events = decide(state, submit, T0)
    for event in events:
        state = evolve(state, event)
    assign = command(AssignJob, execution_id="job-1.1", attempt=1, worker_id="w")
    events += decide(state, assign, T0)
    recovery = fold_recovered(events + events[:2], lambda job_id: JobState(job_id))  # with duplicates
    assert [d.causation_id for d in recovery.decisions] == [submit.envelope.command_id, assign.envelope.command_id]
    assert recovery.states["job-1"].seq == 3 and recovery.states["job-1"].status == Status.ASSIGNED
    assert recovery.decisions[-1].after() == recovery.states["job-1"]


def test_events_the_table_already_holds_are_not_folded_again() -> None:
    submit = command(SubmitJob, spec=spec())
    events = decide(JobState("job-1"), submit, T0)
    stored = evolve(JobState("job-1"), events[0])
    recovery = fold_recovered(events, lambda job_id: stored)
    assert [len(d.events) for d in recovery.decisions] == [1]
    assert recovery.states["job-1"].seq == 2

"""Recovery after a crash: decisions found on the topic, and completing one cut short."""

from __future__ import annotations

from jobstream.core.decide import decide
from jobstream.core.state import JobState, Status, evolve
from jobstream.schemas import AssignJob, JobQueued, JobSubmitted, SubmitJob
from jobstream.streams.recovery import fold_recovered, missing_events
from tests.unit.builders import T0, command, spec


def test_a_decision_cut_short_is_completed_when_its_command_comes_back() -> None:
    # Given a SubmitJob whose first event reached the topic and whose second did not
    submit = command(SubmitJob, spec=spec())
    full = decide(JobState("job-1"), submit, T0)
    assert [type(e) for e in full] == [JobSubmitted, JobQueued]
    recovery = fold_recovered(full[:1], lambda job_id: JobState(job_id))
    folded = recovery.states["job-1"]
    assert folded.status == Status.PENDING and folded.has_applied(submit.envelope.command_id)

    # When the command is delivered again, deciding from the state before the decision
    decision = recovery.last["job-1"]
    missing = missing_events(decision, decide(decision.before, submit, T0))

    # Then exactly the missing event follows, with the next seq
    assert [type(e) for e in missing] == [JobQueued] and missing[0].envelope.seq == 2
    assert evolve(folded, missing[0]).status == Status.QUEUED


def test_complete_decisions_need_nothing_and_duplicates_are_skipped() -> None:
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
    last = recovery.last["job-1"]
    assert missing_events(last, decide(last.before, assign, T0)) == []


def test_events_the_table_already_holds_are_not_folded_again() -> None:
    submit = command(SubmitJob, spec=spec())
    events = decide(JobState("job-1"), submit, T0)
    stored = evolve(JobState("job-1"), events[0])
    recovery = fold_recovered(events, lambda job_id: stored)
    assert [len(d.events) for d in recovery.decisions] == [1]
    assert recovery.states["job-1"].seq == 2

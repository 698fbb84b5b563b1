"""A PATCH of a queued job: the old spec, perhaps already on its way to a worker, cannot run."""

from __future__ import annotations

from jobstream.core.decide import decide
from jobstream.core.state import JobState, Status, evolve
from jobstream.infra.topics import Topics
from jobstream.schemas import (
    JobPatch,
    JobQueued,
    JobReady,
    JobUpdated,
    JobWithdrawn,
    ReportRejected,
    ReportStarted,
    SubmitJob,
    UpdateJob,
)
from jobstream.streams.side_effects import messages
from tests.unit.builders import T0, command, spec


def test_the_new_spec_goes_out_as_the_next_attempt_and_a_start_of_the_old_one_is_fenced() -> None:
    queued = JobState("job-1")
    for event in decide(queued, command(SubmitJob, spec=spec()), T0):
        queued = evolve(queued, event)
    assert queued.status == Status.QUEUED and queued.attempt == 1

    # When the job's environment changes while it waits
    events = decide(queued, command(UpdateJob, patch=JobPatch(env={"MODE": "new"})), T0)
    assert [type(e) for e in events] == [JobUpdated, JobQueued] and events[1].attempt == 2  # type: ignore[attr-defined]
    patched = queued
    for event in events:
        patched = evolve(patched, event)

    # Then the dispatcher is told to drop attempt 1 and to place attempt 2 with the new spec
    sent = [record for _, _, record in messages(Topics("jobstream"), queued, patched, events)]
    withdrawn = [r for r in sent if isinstance(r, JobWithdrawn)]
    ready = [r for r in sent if isinstance(r, JobReady)]
    assert [w.attempt for w in withdrawn] == [1]
    assert [(r.attempt, r.spec.task.env) for r in ready] == [(2, {"MODE": "new"})]  # type: ignore[union-attr]

    # and a worker that was already sent attempt 1 (the old spec) has its start refused
    start = command(ReportStarted, execution_id="job-1.1", attempt=1, worker_id="w-1", pid=1)
    refused = decide(patched, start, T0)
    assert [type(e) for e in refused] == [ReportRejected], refused

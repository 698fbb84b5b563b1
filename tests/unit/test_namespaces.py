"""Namespaces in the core: a job belongs to the namespace it was submitted in, its events carry it,
and a command of another namespace is refused (the processors' own commands carry none)."""

from __future__ import annotations

from dataclasses import replace

from jobstream.core.decide import decide
from jobstream.core.state import JobState, Status, evolve, tombstone
from jobstream.schemas import CancelJob, Command, CommandRejected, JobCancelled, SubmitJob
from tests.unit.builders import T0, command, spec


def in_namespace(cmd: Command, namespace: str | None) -> Command:
    return replace(cmd, envelope=replace(cmd.envelope, namespace=namespace))


def submitted(namespace: str) -> JobState:
    state = JobState("job-1")
    for event in decide(state, in_namespace(command(SubmitJob, spec=spec()), namespace), T0):
        state = evolve(state, event)
    return state


def test_a_job_and_each_of_its_events_belong_to_the_namespace_it_was_submitted_in() -> None:
    events = decide(JobState("job-1"), in_namespace(command(SubmitJob, spec=spec()), "acme"), T0)
    assert {e.envelope.namespace for e in events} == {"acme"}
    assert submitted("acme").namespace == "acme"


def test_a_command_without_a_namespace_acts_in_the_default_one() -> None:
    assert submitted("default").namespace == "default"
    events = decide(JobState("job-1"), command(SubmitJob, spec=spec()), T0)
    assert {e.envelope.namespace for e in events} == {"default"}


def test_a_command_of_another_namespace_is_refused_and_changes_nothing() -> None:
    state = submitted("acme")
    events = decide(state, in_namespace(command(CancelJob), "other"), T0)
    assert [type(e) for e in events] == [CommandRejected]
    assert events[0].reason == "job job-1 is not in namespace other"
    assert events[0].envelope.namespace == "acme"  # recorded in the job's own history


def test_the_same_namespace_or_a_processors_command_without_one_acts() -> None:
    for namespace in ("acme", None):
        events = decide(submitted("acme"), in_namespace(command(CancelJob), namespace), T0)
        assert [type(e) for e in events] == [JobCancelled]


def test_a_tombstone_keeps_its_namespace() -> None:
    state = evolve(submitted("acme"), decide(submitted("acme"), command(CancelJob), T0)[0])
    assert state.status == Status.CANCELLED and tombstone(state).namespace == "acme"


def test_a_command_naming_no_valid_namespace_is_refused_and_recorded_in_the_default_one() -> None:
    events = decide(JobState("job-1"), in_namespace(command(SubmitJob, spec=spec()), "x" * 100_000), T0)
    assert [type(e) for e in events] == [CommandRejected] and "is not a namespace name" in events[0].reason
    assert events[0].envelope.namespace == "default" and len(events[0].reason) < 200
    state = submitted("acme")
    assert [type(e) for e in decide(state, in_namespace(command(CancelJob), "Bad Name"), T0)] == [CommandRejected]

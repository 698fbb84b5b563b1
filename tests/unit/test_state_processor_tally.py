"""Which namespace the state processor counts a decision in: the job's, or for a job that does not
exist the one the command names (a team reads its own figures)."""

from __future__ import annotations

import dataclasses

from jobstream.core.decide import decide
from jobstream.core.state import JobState, evolve
from jobstream.schemas import CancelJob, SubmitJob
from jobstream.streams.state_processor import namespace_of
from tests.unit.builders import T0, command, spec


def in_namespace(cmd: SubmitJob | CancelJob, namespace: str | None) -> SubmitJob | CancelJob:
    return dataclasses.replace(cmd, envelope=dataclasses.replace(cmd.envelope, namespace=namespace))


def test_a_job_counts_in_its_own_namespace_whatever_a_command_names() -> None:
    submit = in_namespace(command(SubmitJob, spec=spec()), "acme")
    state = JobState("job-1")
    for event in decide(state, submit, T0):
        state = evolve(state, event)
    assert namespace_of(state, submit) == "acme"
    assert namespace_of(state, in_namespace(command(CancelJob), "beta")) == "acme"


def test_a_command_for_no_job_counts_in_the_namespace_it_names_or_the_default() -> None:
    assert namespace_of(JobState("nobody"), in_namespace(command(CancelJob, job_id="nobody"), "beta")) == "beta"
    assert namespace_of(JobState("nobody"), in_namespace(command(CancelJob, job_id="nobody"), None)) == "default"

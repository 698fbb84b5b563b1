"""Hostile commands (extreme values in valid Avro) are decided without raising, into events the
codec can write: the state processor never has to set a well-formed command aside."""

from __future__ import annotations

import dataclasses

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jobstream.core.decide import decide
from jobstream.core.state import JobState, evolve, fold
from jobstream.schemas import Command, CommandRejected, PythonTask, SubmitJob, make_codec
from jobstream.schemas.samples import sample
from tests.hostile import hostile_command
from tests.unit.builders import T0, command, spec

CODEC = make_codec(None)


def existing(job_id: str) -> JobState:
    """A queued job, so a hostile command reaches past 'does not exist'."""
    return fold(job_id, decide(JobState(job_id), command(SubmitJob, job_id=job_id, spec=spec()), T0))


def check_decided(state: JobState, hostile: Command) -> None:
    for event in decide(state, hostile, T0):
        state = evolve(state, event)
        CODEC.encode(event)


@settings(max_examples=300, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
@given(hostile=hostile_command(), exists=st.booleans())
def test_a_hostile_command_is_decided_without_raising(hostile: Command, exists: bool) -> None:
    job_id = hostile.envelope.job_id
    check_decided(existing(job_id) if exists else JobState(job_id), hostile)


def test_a_spec_with_non_finite_numbers_is_rejected_naming_the_fields() -> None:
    nan, inf = float("nan"), float("inf")
    base = sample(SubmitJob)
    assert base.spec.retry is not None
    hostile_spec = spec(timeout_s=nan, retry=dataclasses.replace(base.spec.retry, initial_backoff_s=nan,
                                                                 max_backoff_s=inf, multiplier=nan))
    [rejected] = decide(JobState("job-nan"), command(SubmitJob, job_id="job-nan", spec=hostile_spec), T0)
    assert isinstance(rejected, CommandRejected)
    for field in ("timeout_s", "retry.initial_backoff_s", "retry.max_backoff_s", "retry.multiplier"):
        assert field in rejected.reason, rejected.reason


def test_arguments_nested_deeper_than_the_parser_goes_are_rejected_naming_the_field() -> None:
    task = PythonTask(entrypoint="m:f", args_json="[" * 100_000, kwargs_json="{}")
    [rejected] = decide(JobState("job-deep"), command(SubmitJob, job_id="job-deep", spec=spec(task=task)), T0)
    assert isinstance(rejected, CommandRejected) and "task.args_json" in rejected.reason, rejected

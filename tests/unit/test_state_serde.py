"""Job states survive the engine's changelog encoding, whole and as tombstones."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from jobstream.core.decide import decide
from jobstream.core.state import JobState, evolve, tombstone
from jobstream.schemas import CancelJob, JobSpec, RetryPolicy, ShellTask, SubmitJob
from jobstream.streams.kafka_io import command_envelope
from jobstream.streams.state_serde import StateSerde, _rebuild

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def _settled() -> JobState:
    spec = JobSpec(name="n", queue="q", task=ShellTask(argv=["true"], env={"A": "1"}), labels={"team": "data"},
                   retry=RetryPolicy(max_attempts=3))
    state = JobState("job-1")
    for command in (SubmitJob(envelope=command_envelope(SubmitJob, "job-1", "t", now=NOW), spec=spec),
                    CancelJob(envelope=command_envelope(CancelJob, "job-1", "t", now=NOW))):
        for event in decide(state, command, NOW):
            state = evolve(state, event)
    return state


@pytest.mark.parametrize("state", [JobState("empty"), _settled(), tombstone(_settled())], ids=["new", "full", "slim"])
def test_round_trip(state: JobState) -> None:
    serde = StateSerde()
    assert serde.decode(serde.encode(state)) == state


def test_an_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="format"):
        StateSerde().decode(b"\x7fwhatever")


def test_a_field_gone_from_the_class_is_dropped_and_a_new_one_defaults() -> None:
    rebuilt = _rebuild(JobState, ("job_id", "seq", "field_since_removed"), ("job-2", 7, "x"))
    assert rebuilt == JobState("job-2", seq=7)

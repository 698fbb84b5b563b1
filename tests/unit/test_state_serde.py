"""Job states survive the engine's changelog encoding exactly: whole, as tombstones, cut short by a
crash (nested too), after every event of the golden histories and of generated command sequences;
and a state stored by an earlier release (the pickle format) still reads."""

from __future__ import annotations

import pickle
from collections import OrderedDict
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jobstream.core.decide import decide
from jobstream.core.state import Incomplete, JobState, evolve, tombstone
from jobstream.schemas import (
    CancelJob,
    ConfluentCodec,
    JobEvent,
    JobSpec,
    JobStateFields,
    MessageDecodeError,
    RetryPolicy,
    SchemaRegistryClient,
    ShellTask,
    SubmitJob,
)
from jobstream.streams.kafka_io import command_envelope
from jobstream.streams.state_serde import PICKLE_FORMAT, StateSerde, _rebuild
from tests.golden.history import FOLDER, read
from tests.golden.record import BROKEN
from tests.stub_registry import StubRegistry, serving
from tests.unit.builders import T0
from tests.unit.test_decide_properties import build, recipes

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
SERDE = StateSerde()


def _settled() -> JobState:
    spec = JobSpec(name="n", queue="q", task=ShellTask(argv=["true"], env={"A": "1"}), labels={"team": "data"},
                   retry=RetryPolicy(max_attempts=3))
    state = JobState("job-1")
    for command in (SubmitJob(envelope=command_envelope(SubmitJob, "job-1", "t", now=NOW), spec=spec),
                    CancelJob(envelope=command_envelope(CancelJob, "job-1", "t", now=NOW))):
        for event in decide(state, command, NOW):
            state = evolve(state, event)
    return state


def _nested() -> JobState:
    """A decision cut short inside the state before another one cut short."""
    inner = Incomplete("c1", NOW, JobState("job-1", seq=1, recent_commands=("c0",)))
    before = JobState("job-1", seq=2, recent_commands=("c0", "c1"), incomplete=inner)
    return JobState("job-1", seq=3, recent_commands=("c0", "c1", "c2"),
                    incomplete=Incomplete("c2", NOW + timedelta(seconds=1), before))


def assert_round_trips(state: JobState) -> None:
    data = SERDE.encode(state)
    assert data[:2] == b"\xc3\x01"  # written as Avro (single-object), never as pickle
    again = SERDE.decode(data)
    assert again == state
    assert type(again.status) is type(state.status)  # a Status again, not its string


def test_the_record_holds_every_field_of_the_state() -> None:
    """A field added to JobState without its schema field fails here, not on a restore."""
    assert {f.name for f in fields(JobState)} == {f.name for f in fields(JobStateFields)} | {"incomplete"}


@pytest.mark.parametrize("state", [JobState("empty"), _settled(), tombstone(_settled()), _nested()],
                         ids=["new", "full", "slim", "nested-incomplete"])
def test_round_trip(state: JobState) -> None:
    assert_round_trips(state)


@pytest.mark.parametrize("path", sorted(p for p in FOLDER.glob("*.jsonl") if not p.name.startswith(BROKEN)),
                         ids=lambda path: path.stem)
def test_every_state_of_a_golden_history_round_trips(path: Path) -> None:
    states: dict[str, JobState] = {}
    for event in read(path).events:
        if isinstance(event, JobEvent):
            job_id = event.envelope.job_id
            states[job_id] = state = evolve(states.get(job_id, JobState(job_id)), event)
            assert_round_trips(state)


@settings(max_examples=200, deadline=None)
@given(recipes, st.data())
def test_every_state_of_a_command_sequence_round_trips(steps: list[tuple[Any, ...]], data: st.DataObject) -> None:
    """Each decision may be cut short by a crash (fewer of its events folded), and the next one
    taken on that state: incomplete states, nested ones included."""
    state = JobState("job-1")
    now = T0
    for kind, offset, outcome, code, with_retry in steps:
        now += timedelta(seconds=1)
        events = decide(state, build(kind, state, offset, outcome, code, with_retry), now)
        for event in events[:data.draw(st.integers(0, len(events)))]:
            state = evolve(state, event)
            assert_round_trips(state)


def test_a_pickled_state_reads() -> None:
    """The bytes earlier releases really wrote are test_codec_golden.py's recorded states."""
    state = _settled()
    assert SERDE.decode(PICKLE_FORMAT + pickle.dumps(state)) == state


def test_a_pickle_naming_anything_but_our_types_is_refused() -> None:
    with pytest.raises(pickle.UnpicklingError, match="collections.OrderedDict"):
        SERDE.decode(PICKLE_FORMAT + pickle.dumps(OrderedDict()))


def test_an_unknown_format_is_refused() -> None:
    with pytest.raises(MessageDecodeError, match="not Avro"):
        SERDE.decode(b"\x7fwhatever")


def test_a_field_gone_from_the_class_is_dropped_and_a_new_one_defaults() -> None:
    rebuilt = _rebuild(JobState, ("job_id", "seq", "field_since_removed"), ("job-2", 7, "x"))
    assert rebuilt == JobState("job-2", seq=7)


def test_with_a_schema_registry_states_are_in_its_wire_format_and_pickled_ones_still_read() -> None:
    with serving() as (current, url):
        current[0] = StubRegistry()
        serde = StateSerde(ConfluentCodec(SchemaRegistryClient(url)), "jobs-changelog")
        state = _nested()
        data = serde.encode(state)
        assert data[:1] == b"\x00" and serde.decode(data) == state
        assert list(current[0].subjects) == ["jobs-changelog-jobstream.state.JobStateValue"]
        settled = _settled()
        assert serde.decode(PICKLE_FORMAT + pickle.dumps(settled)) == settled

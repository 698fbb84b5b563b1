"""Golden histories (``tests/golden/*.jsonl``, recorded by ``make golden``): real scenarios whose
recorded events must still replay, through ``evolve`` and the projection, to the recorded job
states and rows, and whose recorded commands must still decide exactly the recorded events. A
change of behaviour shows up here as a failing replay; a broken history must raise."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from jobstream.core import lifecycle
from jobstream.core.decide import decide
from jobstream.core.state import JobState, SequenceError, evolve
from jobstream.projections.batch import Batch
from jobstream.schemas import Command, JobEvent
from tests.golden.history import FOLDER, read, replay
from tests.golden.record import BROKEN
from tests.golden.scenarios import SCENARIOS
from tests.golden.stage import Recorded

HISTORIES = sorted(path for path in FOLDER.glob("*.jsonl") if not path.name.startswith(BROKEN))
BROKEN_HISTORIES = sorted(FOLDER.glob(f"{BROKEN}*.jsonl"))


def test_every_scenario_has_its_history_and_a_broken_one_exists() -> None:
    assert {path.stem for path in HISTORIES} == set(SCENARIOS)
    assert BROKEN_HISTORIES


@pytest.mark.parametrize("path", HISTORIES, ids=lambda path: path.stem)
def test_the_events_replay_to_the_recorded_states_and_rows(path: Path) -> None:
    history = read(path)
    assert replay(history.events) == history.expected


@pytest.mark.parametrize("path", HISTORIES, ids=lambda path: path.stem)
def test_each_recorded_command_still_decides_the_events_recorded_after_it(path: Path) -> None:
    states: dict[str, JobState] = {}
    for command, at, recorded in decisions(read(path).lines):
        job_id = command.envelope.job_id
        state = states.get(job_id, JobState(job_id))
        assert decide(state, command, at) == recorded, f"{command.envelope.command_id} decides otherwise now"
        for event in recorded:
            state = evolve(state, event)
        states[job_id] = state


@pytest.mark.parametrize("path", HISTORIES, ids=lambda path: path.stem)
def test_after_every_event_the_row_and_the_state_share_the_lifecycle(path: Path) -> None:
    states: dict[str, JobState] = {}
    batch = Batch()
    for event in read(path).events:
        batch.apply(event)
        if isinstance(event, JobEvent):
            job_id = event.envelope.job_id
            states[job_id] = state = evolve(states.get(job_id, JobState(job_id)), event)
            row = batch.jobs.get(job_id)
            assert row is None or [getattr(row, f) for f in lifecycle.FIELDS] == [
                getattr(state, f) for f in lifecycle.FIELDS], event.envelope.event_id


@pytest.mark.parametrize("path", BROKEN_HISTORIES, ids=lambda path: path.stem)
def test_a_broken_history_does_not_replay(path: Path) -> None:
    with pytest.raises(SequenceError):
        replay(read(path).events)


def decisions(lines: list[Recorded]) -> Iterator[tuple[Command, datetime, list[JobEvent]]]:
    """Each command with its time and the job events recorded after it (workers' events are no decision)."""
    current: tuple[Command, datetime, list[JobEvent]] | None = None
    for line in lines:
        if isinstance(line.record, Command):
            if current is not None:
                yield current
            assert line.at is not None
            current = (line.record, line.at, [])
        elif isinstance(line.record, JobEvent) and current is not None:
            current[2].append(line.record)
    if current is not None:
        yield current

"""Job events read back from their read-model rows are the events that were written: every event
of every golden history goes through its row and back unchanged."""

from __future__ import annotations

from dataclasses import replace

import pytest

from jobstream.projections.mapping import event_row
from jobstream.projections.payload_read import event_from_row
from jobstream.schemas import JobEvent
from tests.golden.history import FOLDER, read


def _golden_events() -> list[JobEvent]:
    events: list[JobEvent] = []
    for path in sorted(FOLDER.glob("*.jsonl")):
        if path.name.startswith("broken"):
            continue
        events += [e for e in read(path).events if isinstance(e, JobEvent)]
    return events


def test_every_golden_event_reads_back_from_its_row() -> None:
    events = _golden_events()
    assert len({type(e) for e in events}) >= 15  # the histories cover most event types
    for event in events:
        back = event_from_row(event_row(event)._asdict())
        # the row keeps every envelope field but "continues", which only the state processor reads
        assert back == replace(event, envelope=replace(event.envelope, continues=False))


def test_an_unknown_type_or_a_broken_payload_is_a_value_error() -> None:
    row = event_row(_golden_events()[0])._asdict()
    with pytest.raises(ValueError, match="unknown event type"):
        event_from_row({**row, "type": "JobTeleported"})
    with pytest.raises(ValueError, match="payload"):
        event_from_row({**row, "payload": {"spec": {"task": {"kind": "NoSuchTask"}}}})

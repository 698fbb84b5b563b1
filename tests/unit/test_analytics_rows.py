"""The flat analytics row of each job event (core/analytics.py), over the recorded histories."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from jobstream.core.analytics import fold
from jobstream.schemas import JobContext, JobEvent, JobEventRow
from tests.golden.history import FOLDER, events_of, read

HISTORIES = sorted(p for p in FOLDER.glob("*.jsonl") if not p.name.startswith("broken"))


def _rows(events: list[JobEvent]) -> list[JobEventRow]:
    contexts: dict[str, JobContext] = {}
    rows = []
    for event in events:
        folded = fold(contexts.get(event.envelope.job_id), event)
        if folded is not None:
            contexts[event.envelope.job_id], row = folded
            rows.append(row)
    return rows


@pytest.mark.parametrize("path", HISTORIES, ids=lambda p: p.stem)
def test_one_row_per_event_whose_last_status_is_the_jobs(path: Path) -> None:
    history = read(path)
    events = [e for e in events_of(history.lines) if isinstance(e, JobEvent)]
    rows = _rows(events + events[: len(events) // 2])  # a redelivered half publishes nothing new
    assert [(r.job_id, r.seq, r.type) for r in rows] == [(e.envelope.job_id, e.envelope.seq, e.envelope.type)
                                                          for e in events]
    for job_id, state in history.expected.states.items():
        last = [r for r in rows if r.job_id == job_id][-1]
        assert last.status == state["status"] and last.queue == state["spec"]["queue"], job_id
        assert last.namespace == state.get("namespace", "default"), job_id  # the job's, as its events say


def test_a_plain_job_row_by_row() -> None:
    events = [e for e in events_of(read(FOLDER / "plain-job.jsonl").lines) if isinstance(e, JobEvent)]
    rows = _rows(events)
    assert [(r.type, r.status, r.attempt, r.worker_id is not None) for r in rows] == [
        ("JobSubmitted", "pending", None, False), ("JobQueued", "queued", 1, False),
        ("JobAssigned", "assigned", 1, True), ("JobStarted", "running", 1, True),
        ("JobProgressed", "running", 1, True), ("JobCompleted", "completed", 1, True)]
    done = rows[-1]
    assert done.name == "hello" and done.queue == "default" and done.exit_code == 0 and done.duration_ms is not None


def test_a_row_carries_its_jobs_namespace() -> None:
    events = [e for e in events_of(read(FOLDER / "plain-job.jsonl").lines) if isinstance(e, JobEvent)]
    in_acme = [dataclasses.replace(e, envelope=dataclasses.replace(e.envelope, namespace="acme")) for e in events]
    assert {row.namespace for row in _rows(in_acme)} == {"acme"}

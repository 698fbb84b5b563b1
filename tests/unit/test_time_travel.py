"""Time travel: a job's read-model event rows, cut at any point of its history and folded, give the
state ``evolve`` gave at that point when the events were first decided."""

from __future__ import annotations

from dataclasses import replace

from jobstream.api.time_travel import fold_history, state_view
from jobstream.core.state import JobState, evolve
from jobstream.projections.mapping import event_row
from jobstream.schemas import JobEvent
from tests.golden.history import FOLDER, read


def _histories() -> dict[str, list[JobEvent]]:
    jobs: dict[str, list[JobEvent]] = {}
    for path in sorted(FOLDER.glob("*.jsonl")):
        if not path.name.startswith("broken"):
            for event in read(path).events:
                if isinstance(event, JobEvent):
                    jobs.setdefault(f"{path.name}/{event.envelope.job_id}", []).append(event)
    return jobs


def test_every_prefix_of_every_golden_history_folds_to_the_state_it_had() -> None:
    for name, events in _histories().items():
        job_id = events[0].envelope.job_id
        rows = [event_row(e)._asdict() for e in events]
        state = JobState(job_id)
        for k, event in enumerate(events, start=1):
            state = evolve(state, replace(event, envelope=replace(event.envelope, continues=False)))
            assert fold_history(job_id, rows[:k]) == state, f"{name} after event {k}"


def test_the_view_of_a_folded_state_has_the_rows_fields() -> None:
    events = next(e for e in _histories().values() if e[0].envelope.type == "JobSubmitted")
    state = fold_history(events[0].envelope.job_id, [event_row(e)._asdict() for e in events])
    view = state_view(state)
    assert view["status"] == state.status and view["spec"]["name"] == view["name"] == state.spec.name  # type: ignore[union-attr]
    assert fold_history("nobody", []).exists is False

"""A job as it was at a past moment: its events up to then, folded by the state processor's own
``evolve`` (events are the truth; the read model's row is only their latest fold)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from jobstream.api.store import ReadModel
from jobstream.core.state import JobState, evolve
from jobstream.projections.payload import record_json
from jobstream.projections.payload_read import event_from_row

PAGE = 1000


def fold_history(job_id: str, rows: Iterable[dict[str, Any]]) -> JobState:
    """The state these ``job_events`` rows (in seq order, from the first) fold into."""
    state = JobState(job_id)
    for row in rows:
        state = evolve(state, event_from_row(row))
    return state


def state_view(state: JobState) -> dict[str, Any]:
    """The folded state in the shape of a job's row (``JobView``)."""
    spec = state.spec
    return {"job_id": state.job_id, "seq": state.seq, "updated_at": state.updated_at,
            "status": state.status.value if state.status else None,
            "name": spec.name if spec else None, "queue": spec.queue if spec else None,
            "priority": spec.priority if spec else None, "labels": dict(spec.labels) if spec else {},
            "spec": record_json(spec) if spec else None, "attempt": state.attempt, "tries": state.tries,
            "execution_id": state.execution_id, "worker_id": state.worker_id, "last_error": state.last_error,
            "result_json": state.result_json, "next_run_at": state.next_run_at, "submitted_at": state.submitted_at,
            "runs": state.runs}


async def events_until(store: ReadModel, job_id: str, *, as_of: datetime | None = None,
                       seq: int | None = None) -> list[dict[str, Any]]:
    """The job's event rows that happened at or before ``as_of`` (and up to ``seq``), in order."""
    rows: list[dict[str, Any]] = []
    after = 0
    while True:
        page = await store.job_events(job_id, after, PAGE)
        kept = [r for r in page if (as_of is None or r["occurred_at"] <= as_of) and (seq is None or r["seq"] <= seq)]
        rows += kept
        if len(page) < PAGE or len(kept) < len(page):
            return rows
        after = int(page[-1]["seq"])

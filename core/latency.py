"""How long a job took through each stage, read off one decision: pure, from the state before it and
the events it appended (their ``occurred_at``), for the state processor's histograms.

- ``scheduling``: queued -> running (the job's last transition before starting was its queueing);
- ``run``: an execution's own duration, as its worker reported it;
- ``turnaround``: submitted -> completed, or failed for good.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from jobstream.core.lifecycle import Status
from jobstream.core.state import JobState
from jobstream.schemas import JobCompleted, JobEvent, JobFailed, JobStarted


class Stage(StrEnum):
    SCHEDULING = "scheduling"
    RUN = "run"
    TURNAROUND = "turnaround"


def finished_results(events: Sequence[JobEvent]) -> list[str]:
    """``completed`` or ``failed`` for each event that ends a job's run for good (retried failures do not)."""
    return ["completed" if isinstance(event, JobCompleted) else "failed" for event in events
            if isinstance(event, JobCompleted) or (isinstance(event, JobFailed) and event.final)]


def stage_latencies(before: JobState, events: Sequence[JobEvent]) -> list[tuple[Stage, float]]:
    """Each (stage, seconds) these events end; nothing for a stage whose start is unknown."""
    found: list[tuple[Stage, float]] = []
    for event in events:
        at = event.envelope.occurred_at
        if isinstance(event, JobStarted) and before.status == Status.QUEUED and before.updated_at is not None:
            found.append((Stage.SCHEDULING, (at - before.updated_at).total_seconds()))
        elif isinstance(event, JobCompleted | JobFailed):
            if event.duration_ms is not None:
                found.append((Stage.RUN, event.duration_ms / 1000))
            final = isinstance(event, JobCompleted) or event.final
            if final and before.submitted_at is not None and before.spec is not None and not before.spec.schedule:
                found.append((Stage.TURNAROUND, (at - before.submitted_at).total_seconds()))
    return [(stage, max(0.0, seconds)) for stage, seconds in found]

"""Recovery of the state processor after a crash: the events the table's changelog missed.

Catch-up folds the events found past the last marker, grouped by decision (job, causation), so
that the side effects of each decision can be sent again (their receivers tolerate repeats).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from jobstream.core.state import JobState, evolve
from jobstream.schemas import JobEvent


@dataclass
class RecoveredDecision:
    before: JobState  # the job's state before the decision's first event
    causation_id: str | None
    events: list[JobEvent] = field(default_factory=list)

    def after(self) -> JobState:
        state = self.before
        for event in self.events:
            state = evolve(state, event)
        return state


@dataclass
class Recovery:
    states: dict[str, JobState]  # jobs whose state moved
    decisions: list[RecoveredDecision]  # in topic order


def fold_recovered(events: Iterable[JobEvent], state_of: Callable[[str], JobState]) -> Recovery:
    """Fold events that follow each job's state; skip what the state already holds. Pure."""
    states: dict[str, JobState] = {}
    decisions: list[RecoveredDecision] = []
    last: dict[str, RecoveredDecision] = {}
    for event in events:
        job_id = event.envelope.job_id
        state = states.get(job_id) or state_of(job_id)
        if event.envelope.seq != state.seq + 1:
            continue  # already folded (a duplicate), or a gap that is not ours to fill
        decision = last.get(job_id)
        if decision is None or decision.causation_id != event.envelope.causation_id:
            decision = RecoveredDecision(state, event.envelope.causation_id)
            last[job_id] = decision
            decisions.append(decision)
        decision.events.append(event)
        states[job_id] = evolve(state, event)
    return Recovery(states, decisions)

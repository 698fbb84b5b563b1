"""What `bench chaos` checks once the load has ended and the system is quiet: pure functions over
the events topic (in log order), the executions the tasks themselves recorded, and the read
model's rows, so each check is tested with hand-made histories that violate it.

A position (job_id, seq) written twice is the mark of a fenced owner: only an owner that lost a
job's partition can write a seq its successor also wrote (the successor knows the last one).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from jobstream.core.lifecycle import TERMINAL, transition
from jobstream.schemas import JobCancelled, JobCompleted, JobEvent, JobFailed, JobReturned, Outcome, ScheduleEnded

Row = Mapping[str, Any]


def histories(events: Iterable[JobEvent]) -> dict[str, list[JobEvent]]:
    """Each job's events in seq order, a position written twice kept once (its first write)."""
    by_job: dict[str, dict[int, JobEvent]] = defaultdict(dict)
    for event in events:
        by_job[event.envelope.job_id].setdefault(event.envelope.seq, event)
    return {job: [seqs[s] for s in sorted(seqs)] for job, seqs in by_job.items()}


def final_status(history: list[JobEvent]) -> str | None:
    status: str | None = None
    tries = 0
    for event in history:
        changes = transition(status, tries, event) or {}
        status, tries = changes.get("status", status), changes.get("tries", tries)
    return status


def lost_jobs(events: Iterable[JobEvent], expected: Iterable[str] = ()) -> list[str]:
    """Jobs (submitted by the load, or seen in the events) that never reached a terminal state."""
    jobs = histories(events)
    return sorted(job for job in set(jobs) | set(expected) if final_status(jobs.get(job, [])) not in TERMINAL)


def _ends(event: JobEvent) -> bool:
    return isinstance(event, JobCompleted | JobCancelled | ScheduleEnded) or (
        isinstance(event, JobFailed) and event.final)


def duplicate_terminal_transitions(events: Iterable[JobEvent]) -> list[tuple[str, int]]:
    """(job_id, seq) of each event that ends a run already ended: completed twice, cancelled
    after completing... (a manual retry or redrive queues the job again in between)."""
    found = []
    for job, history in histories(events).items():
        status: str | None = None
        tries = 0
        for event in history:
            if _ends(event) and status in TERMINAL:
                found.append((job, event.envelope.seq))
            changes = transition(status, tries, event) or {}
            status, tries = changes.get("status", status), changes.get("tries", tries)
    return sorted(found)


def seq_gaps(events: Iterable[JobEvent]) -> dict[str, list[int]]:
    """Each job's missing seqs below its highest (seqs start at 1, one per event)."""
    seen: dict[str, set[int]] = defaultdict(set)
    for event in events:
        seen[event.envelope.job_id].add(event.envelope.seq)
    return {job: sorted(set(range(1, max(seqs) + 1)) - seqs)
            for job, seqs in seen.items() if len(seqs) != max(seqs)}


def fenced_writes(events: Iterable[JobEvent]) -> list[tuple[str, int]]:
    """(job_id, seq) of each event at a position an earlier event already holds."""
    counts = Counter((e.envelope.job_id, e.envelope.seq) for e in events)
    return sorted(position for position, n in counts.items() if n > 1)


@dataclass(frozen=True)
class Reexecutions:
    """Jobs whose task ran more than once beyond the retries they asked for: ``after_worker_loss``
    where a worker died holding them (at-least-once, allowed), ``unexplained`` otherwise."""

    after_worker_loss: list[str]
    unexplained: list[str]


def reexecutions(events: Iterable[JobEvent], ledger: Iterable[tuple[str, str]]) -> Reexecutions:
    """``ledger``: (job_id, execution_id) for each time a task actually ran, as the task recorded it.
    A run is expected once, plus once per failure the job's retry policy answered with a retry."""
    jobs = histories(events)
    runs = Counter(job for job, _ in ledger)
    lost: list[str] = []
    unexplained: list[str] = []
    for job, count in sorted(runs.items()):
        history = jobs.get(job, [])
        retried = sum(1 for e in history if isinstance(e, JobFailed) and not e.final and e.outcome != Outcome.LOST)
        if count <= 1 + retried:
            continue
        (lost if any(map(_worker_died, history)) else unexplained).append(job)
    return Reexecutions(lost, unexplained)


def _worker_died(event: JobEvent) -> bool:
    """A lease ended by the worker's death: a running execution failed as lost, or one the job's
    state had not seen start yet returned by the monitor's expiry (``expire:<execution_id>``),
    though its task may have run before its start report was decided."""
    return (isinstance(event, JobFailed) and event.outcome == Outcome.LOST) or (
        isinstance(event, JobReturned) and (event.envelope.causation_id or "").startswith("expire:"))


def rows_differing(live: Mapping[Any, Row], replayed: Mapping[Any, Row]) -> list[Any]:
    """Keys of the rows the live projection and a fresh replay disagree on (missing on either side,
    or any column different)."""
    return sorted((key for key in set(live) | set(replayed) if live.get(key) != replayed.get(key)), key=repr)


def verdict(events: list[JobEvent], expected: Iterable[str], ledger: list[tuple[str, str]],
            live: Mapping[Any, Row], replayed: Mapping[Any, Row]) -> dict[str, Any]:
    """Every check's count, with a few examples of each violation."""
    expected = list(expected)
    lost = lost_jobs(events, expected)
    twice = duplicate_terminal_transitions(events)
    gaps = seq_gaps(events)
    fenced = fenced_writes(events)
    again = reexecutions(events, ledger)
    differing = rows_differing(live, replayed)
    return {
        "jobs": len(set(expected) | {e.envelope.job_id for e in events}),
        "events": len(events),
        "jobs_lost": len(lost),
        "duplicate_terminal_transitions": len(twice),
        "seq_gaps": sum(len(missing) for missing in gaps.values()),
        "fenced_owner_events": len(fenced),
        "projection_rows_differing_from_replay": len(differing),
        "executed_more_than_once": {"after_worker_loss": len(again.after_worker_loss),
                                    "unexplained": len(again.unexplained)},
        "examples": {"lost": lost[:5], "duplicate_terminal": twice[:5], "gaps": dict(list(gaps.items())[:5]),
                     "fenced": fenced[:5], "differing_rows": [repr(k) for k in differing[:5]],
                     "reexecuted_unexplained": {job: [type(e).__name__ for e in histories(events)[job]]
                                                for job in again.unexplained[:3] if job in histories(events)}},
    }


def violations(result: Mapping[str, Any]) -> int:
    """The sum of the counts that must be zero."""
    keys = ("jobs_lost", "duplicate_terminal_transitions", "seq_gaps", "fenced_owner_events",
            "projection_rows_differing_from_replay")
    return sum(int(result[k]) for k in keys) + int(result["executed_more_than_once"]["unexplained"])

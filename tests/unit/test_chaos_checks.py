"""The chaos bench's checks, each shown a hand-made history that violates it and one that does not."""

from __future__ import annotations

from typing import Any

from jobstream.chaos_checks import (
    duplicate_terminal_transitions,
    fenced_writes,
    lost_jobs,
    reexecutions,
    rows_differing,
    seq_gaps,
    verdict,
    violations,
)
from jobstream.schemas import (
    Envelope,
    JobAssigned,
    JobCancelled,
    JobCompleted,
    JobEvent,
    JobFailed,
    JobQueued,
    JobReturned,
    JobStarted,
    JobSubmitted,
    Outcome,
)
from tests.unit.builders import T0, spec


def _env(job: str, seq: int, actor: str = "state-processor") -> Envelope:
    return Envelope(event_id=f"{job}:{seq}", job_id=job, seq=seq, type="t", occurred_at=T0, actor=actor)


def _run(job: str, first_seq: int = 1, attempt: int = 1, worker: str = "w1") -> list[JobEvent]:
    """Submitted (when first_seq is 1), queued, assigned, started: seqs from ``first_seq``."""
    execution = f"{job}-{attempt}"
    events: list[JobEvent] = [JobSubmitted(envelope=_env(job, 1), spec=spec())] if first_seq == 1 else []
    seq = first_seq + len(events)
    return events + [
        JobQueued(envelope=_env(job, seq), queue="default", priority=5, attempt=attempt, execution_id=execution),
        JobAssigned(envelope=_env(job, seq + 1), execution_id=execution, attempt=attempt, worker_id=worker),
        JobStarted(envelope=_env(job, seq + 2), execution_id=execution, attempt=attempt, worker_id=worker),
    ]


def _completed(job: str, seq: int, attempt: int = 1) -> JobCompleted:
    return JobCompleted(envelope=_env(job, seq), execution_id=f"{job}-{attempt}", attempt=attempt)


def _failed(job: str, seq: int, outcome: Outcome, final: bool, attempt: int = 1) -> JobFailed:
    return JobFailed(envelope=_env(job, seq), execution_id=f"{job}-{attempt}", attempt=attempt, outcome=outcome,
                     final=final)


def _returned(job: str, seq: int, cause: str) -> JobReturned:
    envelope = Envelope(event_id=f"{job}:{seq}", job_id=job, seq=seq, type="t", occurred_at=T0,
                        actor="state-processor", causation_id=cause)
    return JobReturned(envelope=envelope, execution_id=f"{job}-1", attempt=1, worker_id="w1", reason="r")


def _done(job: str) -> list[JobEvent]:
    return [*_run(job), _completed(job, 5)]


def test_a_job_that_never_ended_is_lost_and_one_never_seen_too() -> None:
    events = [*_done("a"), *_run("b")]
    assert lost_jobs(events, expected=["a", "b", "c"]) == ["b", "c"]
    assert lost_jobs(_done("a"), expected=["a"]) == []


def test_a_second_end_of_the_same_run_is_a_duplicate_terminal_transition() -> None:
    completed_twice = [*_done("a"), _completed("a", 6)]
    cancelled_after = [*_done("b"), JobCancelled(envelope=_env("b", 6), reason="late")]
    rerun = [*_done("c"), *_run("c", first_seq=6, attempt=2), _completed("c", 9, attempt=2)]  # a manual retry
    assert duplicate_terminal_transitions(completed_twice + cancelled_after + rerun) == [("a", 6), ("b", 6)]
    assert duplicate_terminal_transitions(_done("d")) == []


def test_a_missing_seq_is_a_gap() -> None:
    events = [e for e in _done("a") if e.envelope.seq != 3] + _done("b")
    assert seq_gaps(events) == {"a": [3]}
    assert seq_gaps(_done("b")) == {}


def test_a_position_written_twice_is_a_fenced_owners_write() -> None:
    zombie = JobCompleted(envelope=_env("a", 5, actor="stale"), execution_id="a-1", attempt=1)
    assert fenced_writes([*_done("a"), zombie]) == [("a", 5)]
    assert fenced_writes(_done("a")) == []


def test_a_task_run_twice_is_allowed_only_when_its_worker_died() -> None:
    # Given a job retried after its own failure, one requeued after its worker died, one run twice for nothing
    retried = [*_run("r"), _failed("r", 5, Outcome.FAILED, final=False), *_run("r", 6, 2), _completed("r", 9, 2)]
    lost = [*_run("l"), _failed("l", 5, Outcome.LOST, final=False), *_run("l", 6, 2), _completed("l", 9, 2)]
    twice = _done("t")
    # and one whose worker died after running it but before its start was decided: expired, returned
    expired = [*_run("e")[:3], _returned("e", 4, "expire:e-1"), *_run("e", 5, 2), _completed("e", 8, 2)]
    returned = [*_run("n")[:3], _returned("n", 4, "n-1:returned"), *_run("n", 5, 2), _completed("n", 8, 2)]
    ledger = [("r", "r-1"), ("r", "r-2"), ("l", "l-1"), ("l", "l-2"), ("t", "t-1"), ("t", "t-1"),
              ("e", "e-1"), ("e", "e-2"), ("n", "n-1"), ("n", "n-2")]
    # Then only those without a worker's death are unexplained; the others are counted as allowed
    found = reexecutions(retried + lost + twice + expired + returned, ledger)
    assert found.after_worker_loss == ["e", "l"] and found.unexplained == ["n", "t"]


def test_a_row_missing_or_different_in_the_replay_is_reported() -> None:
    live: dict[Any, dict[str, Any]] = {("jobs", "a"): {"status": "completed"}, ("jobs", "b"): {"status": "failed"},
                                       ("jobs", "c"): {"status": "queued"}}
    replayed = {("jobs", "a"): {"status": "completed"}, ("jobs", "b"): {"status": "completed"}}
    assert rows_differing(live, replayed) == [("jobs", "b"), ("jobs", "c")]
    assert rows_differing(live, dict(live)) == []


def test_a_clean_run_has_no_violations_and_a_dirty_one_counts_each() -> None:
    clean = verdict(_done("a"), ["a"], [("a", "a-1")], {"a": {"s": 1}}, {"a": {"s": 1}})
    assert violations(clean) == 0 and clean["jobs"] == 1
    dirty_events = [*_done("a"), _completed("a", 5), *_run("b")]
    dirty = verdict(dirty_events, ["a", "b"], [("a", "a-1"), ("a", "a-1")], {"a": {"s": 1}}, {})
    assert (dirty["jobs_lost"], dirty["duplicate_terminal_transitions"], dirty["fenced_owner_events"],
            dirty["projection_rows_differing_from_replay"], dirty["executed_more_than_once"]["unexplained"]) == (
        1, 0, 1, 1, 1)
    assert violations(dirty) == 4

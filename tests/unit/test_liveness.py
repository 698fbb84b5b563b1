"""Worker liveness with a fixed clock: who is overdue, and which executions it held."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from jobstream.core.liveness import (
    DEFAULT_WINDOW_S,
    LOST_RETENTION_S,
    UNREAD_AFTER_S,
    Liveness,
    LivenessTracker,
    parse_execution_id,
)
from jobstream.schemas import (
    Assignment,
    WorkerDeregistered,
    WorkerDraining,
    WorkerEnvelope,
    WorkerEvent,
    WorkerHeartbeat,
    WorkerLost,
    WorkerRegistered,
)
from tests.unit.builders import T0, spec


def at(seconds: float) -> Any:
    return T0 + timedelta(seconds=seconds)


class Worker:
    """Builds one worker's records with increasing seq, as the worker process does."""

    def __init__(self, worker_id: str = "w1") -> None:
        self.worker_id, self.seq = worker_id, 0

    def _envelope(self, cls: type[WorkerEvent], t: float) -> WorkerEnvelope:
        self.seq += 1
        return WorkerEnvelope(event_id=f"{self.worker_id}:{self.seq}", worker_id=self.worker_id, seq=self.seq,
                              type=cls.short_name(), occurred_at=at(t), actor="test")

    def registered(self, t: float = 0) -> WorkerRegistered:
        return WorkerRegistered(envelope=self._envelope(WorkerRegistered, t), hostname="h", pid=1, queues=["default"],
                                slots=4, cpu=1.0, memory_mb=512)

    def heartbeat(self, t: float, *running: str, read_to: int = -1) -> WorkerHeartbeat:
        return WorkerHeartbeat(envelope=self._envelope(WorkerHeartbeat, t), running=list(running), free_slots=1,
                               assignments_read_to=read_to)

    def draining(self, t: float) -> WorkerDraining:
        return WorkerDraining(envelope=self._envelope(WorkerDraining, t))

    def deregistered(self, t: float) -> WorkerDeregistered:
        return WorkerDeregistered(envelope=self._envelope(WorkerDeregistered, t))

    def assignment(self, job_id: str, attempt: int = 1) -> Assignment:
        return Assignment(job_id=job_id, execution_id=f"{job_id}.{attempt}", attempt=attempt,
                          worker_id=self.worker_id, spec=spec(), assigned_at=T0)


def lost_record(worker_id: str, seq: int) -> WorkerLost:
    envelope = WorkerEnvelope(event_id=f"{worker_id}:lost:{seq}", worker_id=worker_id, seq=seq, type="WorkerLost",
                              occurred_at=T0, actor="worker-monitor")
    return WorkerLost(envelope=envelope, last_heartbeat_at=T0, reason="test")


def test_a_worker_that_keeps_heartbeating_is_never_overdue() -> None:
    tracker, w = LivenessTracker(), Worker()
    tracker.observe(w.registered(), at(0))
    for t in range(2, 60, 2):
        tracker.observe(w.heartbeat(t), at(t))
        assert tracker.overdue(at(t + DEFAULT_WINDOW_S)) == []


def test_a_silent_worker_is_overdue_after_the_window_with_what_it_held() -> None:
    # Given a worker that runs job a (listed) and was just sent job b (not listed yet)
    tracker, w = LivenessTracker(window_s=6.0), Worker()
    tracker.observe(w.registered(), at(0))
    tracker.observe(w.assignment("a"), at(0.5))
    tracker.observe(w.heartbeat(2, "a.1"), at(2))
    tracker.observe(w.assignment("b"), at(3))
    # When it goes silent: not overdue at the window's edge, overdue just after
    assert tracker.overdue(at(8)) == []
    [loss] = tracker.overdue(at(8.1))
    # Then the loss names both executions, with their job ids and attempts
    assert loss.worker_id == "w1" and loss.seq == w.seq + 1 and loss.last_heartbeat_at == at(2)
    assert sorted((h.job_id, h.attempt) for h in loss.executions) == [("a", 1), ("b", 1)]
    assert loss.event_id == f"w1:lost:{w.seq + 1}" and "6.1s" in loss.reason


def test_a_loss_is_declared_once_and_later_assignments_are_expired_at_once() -> None:
    tracker, w = LivenessTracker(), Worker()
    tracker.observe(w.registered(), at(0))
    [loss] = tracker.overdue(at(7))
    tracker.declare_lost(loss)
    assert tracker.overdue(at(30)) == []
    [orphan] = tracker.observe(w.assignment("late"), at(31))
    assert orphan.execution_id == "late.1"
    # Its own WorkerLost record read back changes nothing more
    assert tracker.observe(lost_record("w1", loss.seq), at(32)) == []
    assert tracker.workers["w1"].status == Liveness.LOST


def test_a_lost_worker_that_wakes_stays_lost_until_it_registers_again() -> None:
    tracker, w = LivenessTracker(), Worker()
    tracker.observe(w.registered(), at(0))
    tracker.observe(w.heartbeat(2, "a.1"), at(2))
    [loss] = tracker.overdue(at(9))
    tracker.declare_lost(loss)
    tracker.observe(w.heartbeat(20, "a.1"), at(20))  # SIGCONT: a heartbeat before it learns
    assert tracker.workers["w1"].status == Liveness.LOST and tracker.workers["w1"].held == {}
    assert tracker.observe(w.registered(21), at(21)) == []  # what it held was expired already
    assert tracker.workers["w1"].status == Liveness.ACTIVE
    assert tracker.overdue(at(26)) == [] and len(tracker.overdue(at(27.5))) == 1


def test_an_assignment_the_next_heartbeat_could_not_know_is_kept_until_the_second() -> None:
    tracker, w = LivenessTracker(), Worker()
    tracker.observe(w.registered(), at(0))
    tracker.observe(w.assignment("quick"), at(1))
    tracker.observe(w.heartbeat(1.0), at(1.1))  # sent before the worker received it
    assert "quick.1" in tracker.workers["w1"].held
    tracker.observe(w.heartbeat(3.0), at(3.1))  # it ran and finished between two heartbeats
    assert tracker.workers["w1"].held == {}


def test_an_assignment_a_live_worker_has_not_read_is_held_then_expired() -> None:
    tracker, w = LivenessTracker(), Worker()
    tracker.observe(w.registered(), at(0))
    tracker.observe(w.assignment("stuck"), at(1), offset=7)
    for t in range(2, 2 + int(UNREAD_AFTER_S), 2):  # the feed still stands at 7: not running, not finished either
        assert tracker.observe(w.heartbeat(t, read_to=7), at(t)) == []
        assert tracker.workers["w1"].held["stuck.1"].unread_since == at(2)
    [expired] = tracker.observe(w.heartbeat(2 + UNREAD_AFTER_S, read_to=7), at(2 + UNREAD_AFTER_S))
    assert expired.execution_id == "stuck.1" and tracker.workers["w1"].held == {}
    assert tracker.overdue(at(3 + UNREAD_AFTER_S)) == []  # the worker itself is alive


def test_heartbeats_queued_during_an_outage_and_arriving_together_expire_nothing() -> None:
    tracker, w = LivenessTracker(), Worker()
    tracker.observe(w.registered(), at(0))
    tracker.observe(w.assignment("waiting"), at(1), offset=7)
    for n in range(40):  # forty heartbeats made over 80 s, read by the monitor within a second
        assert tracker.observe(w.heartbeat(2 + 2 * n, read_to=7), at(100 + n / 100)) == []


def test_an_assignment_read_late_is_then_judged_as_any_other() -> None:
    tracker, w = LivenessTracker(), Worker()
    tracker.observe(w.registered(), at(0))
    tracker.observe(w.assignment("slow"), at(1), offset=7)
    tracker.observe(w.heartbeat(2, read_to=7), at(2))
    assert tracker.observe(w.heartbeat(4, "slow.1", read_to=8), at(4)) == []  # read, and running
    assert tracker.workers["w1"].held["slow.1"].listed
    tracker.observe(w.assignment("quick"), at(5), offset=8)
    tracker.observe(w.heartbeat(6, read_to=9), at(6))  # read, not listed: finished between heartbeats?
    tracker.observe(w.heartbeat(8, read_to=9), at(8))  # a second heartbeat without it: finished
    assert set(tracker.workers["w1"].held) == set()


def test_a_listed_execution_is_finished_once_a_heartbeat_leaves_it_out() -> None:
    tracker, w = LivenessTracker(), Worker()
    tracker.observe(w.registered(), at(0))
    tracker.observe(w.assignment("a"), at(0.1))
    tracker.observe(w.heartbeat(2, "a.1"), at(2))
    tracker.observe(w.heartbeat(4), at(4))
    assert tracker.workers["w1"].held == {}


def test_executions_known_only_from_a_heartbeat_are_held_too() -> None:
    tracker, w = LivenessTracker(), Worker()
    tracker.observe(w.heartbeat(0, "job.with.dots.3"), at(0))  # the monitor started after the assignment
    [loss] = tracker.overdue(at(7))
    assert [(h.job_id, h.attempt) for h in loss.executions] == [("job.with.dots", 3)]


def test_draining_workers_are_watched_and_deregistered_ones_forgotten() -> None:
    tracker, a, b = LivenessTracker(), Worker("a"), Worker("b")
    for worker in (a, b):
        tracker.observe(worker.registered(), at(0))
    tracker.observe(a.draining(1), at(1))
    tracker.observe(b.deregistered(1), at(1))
    assert tracker.workers["a"].status == Liveness.DRAINING and "b" not in tracker.workers
    assert [loss.worker_id for loss in tracker.overdue(at(7))] == ["a"]


def test_a_worker_registering_again_without_a_loss_orphans_what_it_held() -> None:
    tracker, w = LivenessTracker(), Worker()
    tracker.observe(w.registered(), at(0))
    tracker.observe(w.assignment("a"), at(0.1))
    assert [h.execution_id for h in tracker.observe(w.registered(1), at(1))] == ["a.1"]


def test_an_assignment_read_before_the_registration_it_followed_is_kept_not_orphaned() -> None:
    # The two topics are not ordered with each other: a monitor catching up can read a worker's
    # first assignment before the registration that came before it.
    tracker, w = LivenessTracker(), Worker()
    registration = w.registered()
    tracker.observe(w.assignment("a"), at(0.1))
    assert tracker.observe(registration, at(0.2)) == []
    [loss] = tracker.overdue(at(10))
    assert [h.execution_id for h in loss.executions] == ["a.1"]


def test_resume_gives_every_live_worker_a_fresh_window() -> None:
    tracker, w = LivenessTracker(), Worker()
    tracker.observe(w.registered(), at(0))
    tracker.resume(at(100))  # the monitor was down for 100 s
    assert tracker.overdue(at(105)) == [] and len(tracker.overdue(at(106.5))) == 1


def test_an_assignment_to_an_unknown_worker_gives_it_one_window() -> None:
    tracker, w = LivenessTracker(), Worker("ghost")
    tracker.observe(w.assignment("a"), at(10))
    [loss] = tracker.overdue(at(16.1))
    assert [h.execution_id for h in loss.executions] == ["a.1"]


def test_parse_execution_id_inverts_the_deterministic_format() -> None:
    assert parse_execution_id("j-1.12") == ("j-1", 12)
    assert parse_execution_id("no-attempt") is None and parse_execution_id(".3") is None


@settings(max_examples=200, deadline=None)
@given(gaps_us=st.lists(st.integers(min_value=0, max_value=10_000_000), min_size=1, max_size=30))
def test_overdue_exactly_when_the_last_heartbeat_is_older_than_the_window(gaps_us: list[int]) -> None:
    # Whatever the heartbeat spacing, a worker is overdue iff silent for longer than the window,
    # and a lost worker is never reported twice. Gaps in whole microseconds, as times are kept:
    # float sums would put "6.000000000000001 s silent" on the wrong side of the window.
    tracker, w = LivenessTracker(window_s=6.0), Worker()
    tracker.observe(w.registered(), at(0))
    now_us, last_us, declared = 0, 0, 0
    for gap_us in gaps_us:
        now_us += gap_us
        t = now_us / 1_000_000
        losses = tracker.overdue(at(t))
        alive = tracker.workers["w1"].status != Liveness.LOST
        assert bool(losses) == (alive and now_us - last_us > 6_000_000)
        for loss in losses:
            tracker.declare_lost(loss)
            declared += 1
        if alive and not losses:
            tracker.observe(w.heartbeat(t), at(t))
            last_us = now_us
    assert declared <= 1


def test_what_a_worker_still_held_when_it_deregistered_is_orphaned() -> None:
    tracker, w = LivenessTracker(), Worker()
    tracker.observe(w.registered(), at(0))
    tracker.observe(w.assignment("crossed"), at(1))  # sent as it said goodbye
    assert [h.execution_id for h in tracker.observe(w.deregistered(1.1), at(1.1))] == ["crossed.1"]
    assert "w1" not in tracker.workers


def test_an_assignment_that_arrives_while_a_loss_is_announced_is_returned_by_declare_lost() -> None:
    tracker, w = LivenessTracker(), Worker()
    tracker.observe(w.registered(), at(0))
    tracker.observe(w.assignment("a"), at(0.5))
    [loss] = tracker.overdue(at(7))
    tracker.observe(w.assignment("b"), at(7.1))  # the dispatcher had not heard of the loss yet
    late = tracker.declare_lost(loss)
    assert [h.execution_id for h in loss.executions] == ["a.1"] and [h.execution_id for h in late] == ["b.1"]
    assert tracker.workers["w1"].held == {}


def lost_at(tracker: LivenessTracker, w: Worker, t: float) -> None:
    """``w`` registered at ``t``, went silent and was declared lost one window later."""
    tracker.observe(w.registered(t), at(t))
    [loss] = tracker.overdue(at(t + DEFAULT_WINDOW_S + 1))
    tracker.declare_lost(loss)


def test_lost_workers_are_forgotten_after_the_retention_and_their_ids_returned() -> None:
    # Given two workers lost an hour apart, and one alive
    tracker, old, recent, alive = LivenessTracker(), Worker("old"), Worker("recent"), Worker("alive")
    lost_at(tracker, old, 0)
    lost_at(tracker, recent, 3600)
    tracker.observe(alive.registered(3600), at(3600))
    tracker.observe(alive.heartbeat(3606), at(3606))
    # When the retention has passed for the first loss only
    assert tracker.forget_lost(at(LOST_RETENTION_S)) == []
    forgotten = tracker.forget_lost(at(LOST_RETENTION_S + 1))
    # Then only that worker is forgotten (the caller deletes it from its store)
    assert forgotten == ["old"] and sorted(tracker.workers) == ["alive", "recent"]
    assert tracker.forget_lost(at(LOST_RETENTION_S + 2)) == []


def test_a_lost_worker_still_heard_from_is_kept_and_stays_lost() -> None:
    # Given a lost worker whose heartbeats keep arriving (a zombie)
    tracker, w = LivenessTracker(), Worker()
    lost_at(tracker, w, 0)
    tracker.observe(w.heartbeat(3000, "x.1"), at(3000))
    # Then it is not forgotten an hour after its loss, and an assignment to it is expired at once
    assert tracker.forget_lost(at(LOST_RETENTION_S + 10)) == []
    assert [held.execution_id for held in tracker.observe(w.assignment("y"), at(3601))] == ["y.1"]
    assert tracker.forget_lost(at(3000 + LOST_RETENTION_S + 1)) == ["w1"]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 10 * 3600), min_size=1, max_size=40))
def test_the_table_of_lost_workers_is_bounded_by_the_losses_within_the_retention(loss_times: list[int]) -> None:
    # Given workers lost at arbitrary times, forgotten regularly as a monitor would
    tracker = LivenessTracker()
    for n, t in enumerate(sorted(loss_times)):
        lost_at(tracker, Worker(f"w{n}"), t)
        tracker.forget_lost(at(t + DEFAULT_WINDOW_S + 1))
    # Then what is left are the losses of the last retention, no more
    end = sorted(loss_times)[-1] + DEFAULT_WINDOW_S + 1
    tracker.forget_lost(at(end))
    recent = sum(1 for t in loss_times if t >= end - LOST_RETENTION_S)
    assert len(tracker.workers) == recent


def test_a_forgotten_worker_heard_from_again_is_a_stranger_given_a_window() -> None:
    tracker, w = LivenessTracker(), Worker()
    lost_at(tracker, w, 0)
    tracker.forget_lost(at(LOST_RETENTION_S + 10))
    tracker.observe(w.heartbeat(LOST_RETENTION_S + 20, "z.1"), at(LOST_RETENTION_S + 20))
    assert tracker.workers["w1"].status == Liveness.ACTIVE
    [loss] = tracker.overdue(at(LOST_RETENTION_S + 20 + DEFAULT_WINDOW_S + 1))
    assert [held.execution_id for held in loss.executions] == ["z.1"]

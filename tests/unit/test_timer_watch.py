"""A scheduled job's pending timer, and the state processor's watch that arms it again once it is
long overdue (``core/timers.py``, ``core/timer_watch.py``): pure, time passed in."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from jobstream.core.decide import retry_timer_id
from jobstream.core.state import JobState
from jobstream.core.timer_watch import GRACE_S, TimerWatch
from jobstream.core.timers import pending_timer
from jobstream.schemas import CancelJob, FireTimer, Outcome, ReportFinished, ReportStarted, SubmitJob, TimerPurpose
from tests.unit.builders import T0, command, retrying, spec
from tests.unit.test_timer_changes import run

LEASE: dict[str, Any] = {"execution_id": "j.1", "attempt": 1, "worker_id": "w1"}


def waiting_for_a_retry() -> tuple[JobState, JobState]:
    """(before, after) of the failure that schedules the job's retry."""
    state, _ = run(JobState("j"), command(SubmitJob, job_id="j", spec=spec(retry=retrying(3, initial=5.0))))
    state, _ = run(state, command(ReportStarted, job_id="j", **LEASE))
    after, _ = run(state, command(ReportFinished, job_id="j", outcome=Outcome.FAILED, exit_code=1, **LEASE))
    return state, after


def test_a_job_waiting_out_a_retry_has_its_timer_pending_until_it_fires() -> None:
    before, after = waiting_for_a_retry()
    timer = pending_timer(after)
    assert pending_timer(before) is None and timer is not None
    assert (timer.timer_id, timer.purpose) == (retry_timer_id("j", 2), TimerPurpose.RETRY)
    assert timer.due_at == after.retry_at and timer.due_at > T0
    fired, _ = run(after, command(FireTimer, job_id="j", timer_id=timer.timer_id, due_at=timer.due_at,
                                  purpose=TimerPurpose.RETRY))
    assert pending_timer(fired) is None and fired.retry_at is None


def test_a_timer_still_pending_after_the_grace_is_armed_again_and_watched_again() -> None:
    before, after = waiting_for_a_retry()
    watch = TimerWatch()
    watch.decided(before, after, partition=0)
    watch.committed()
    due = after.retry_at
    assert due is not None
    states = {(0, "j"): after}
    assert watch.overdue(due + timedelta(seconds=GRACE_S - 1), frozenset({0}), lambda p, j: states[p, j]) == []
    [(job_id, timer)] = watch.overdue(due + timedelta(seconds=GRACE_S), frozenset({0}), lambda p, j: states[p, j])
    assert job_id == "j" and timer == pending_timer(after)
    watch.committed()
    later = due + timedelta(seconds=2 * GRACE_S)
    assert len(watch.overdue(later, frozenset({0}), lambda p, j: states[p, j])) == 1  # still lost: again


def test_a_timer_that_fired_was_cancelled_or_moved_away_is_not_armed_again() -> None:
    before, after = waiting_for_a_retry()
    cancelled, _ = run(after, command(CancelJob, job_id="j"))
    late = (after.retry_at or T0) + timedelta(seconds=GRACE_S)
    for state, owned in ((cancelled, frozenset({0})), (after, frozenset({1}))):
        watch = TimerWatch()
        watch.restored([after], partition=0)
        assert watch.overdue(late, owned, lambda p, j, s=state: s) == []


def test_an_aborted_round_is_watched_again() -> None:
    before, after = waiting_for_a_retry()
    watch = TimerWatch()
    watch.restored([after], partition=0)
    late = (after.retry_at or T0) + timedelta(seconds=GRACE_S)
    assert len(watch.overdue(late, frozenset({0}), lambda p, j: after)) == 1
    watch.aborted()  # the transaction that sent it again did not commit
    assert len(watch.overdue(late, frozenset({0}), lambda p, j: after)) == 1

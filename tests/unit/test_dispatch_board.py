"""The dispatch board: priority order with aging, pull credits, resource and label matching."""

from __future__ import annotations

import dataclasses
import math
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jobstream.core.dispatch import DispatchBoard, parse_queue_limits
from jobstream.schemas import JobReady, Requirements, WorkerCredit
from tests.unit.builders import T0, spec


def ready(job_id: str, priority: int = 5, at_s: float = 0.0, attempt: int = 1, queue: str = "default",
          memory_mb: int = 0, **labels: str) -> JobReady:
    needs = Requirements(memory_mb=memory_mb, labels=labels) if memory_mb or labels else None
    job_spec = spec(priority=priority, queue=queue, requirements=needs)
    return JobReady(job_id=job_id, execution_id=f"{job_id}.{attempt}", attempt=attempt, queue=queue,
                    priority=priority, spec=job_spec, enqueued_at=T0 + timedelta(seconds=at_s))


def credit(worker: str, free: int, received: int = 0, at_s: float = 0.0, queue: str = "default",
           cpu: float = 8, memory: int = 8192, **labels: str) -> WorkerCredit:
    return WorkerCredit(worker_id=worker, queue=queue, free_slots=free, received=received, cpu_free=cpu,
                        memory_mb_free=memory, labels=labels, issued_at=T0 + timedelta(seconds=at_s))


def test_one_slot_runs_in_priority_order_then_fifo() -> None:
    board = DispatchBoard()
    for job_id, priority in [("a", 5), ("b", 1), ("c", 9), ("d", 1), ("e", 5)]:
        board.add(ready(job_id, priority, at_s=0.001 * ord(job_id)))
    order = []
    for received in range(5):
        board.offer(credit("w", free=1, received=received))
        order += [m.job.job_id for m in board.match(T0)]
    assert order == ["b", "d", "a", "e", "c"]


def test_aging_lets_a_low_priority_job_overtake_newer_urgent_ones() -> None:
    board = DispatchBoard(aging_step_s=10)
    board.add(ready("slow", priority=10, at_s=0))
    for n in range(20):  # a steady stream of urgent jobs, one per 5 s
        board.add(ready(f"urgent-{n}", priority=1, at_s=5 * n))
    board.offer(credit("w", free=100, at_s=200))
    order = [m.job.job_id for m in board.match(T0 + timedelta(seconds=200))]
    # priority 10 at t=0 ranks with priority 1 at t=90: only urgent jobs enqueued before 90 s go first
    assert order.index("slow") == 18  # urgent-0 .. urgent-17 (t = 0 .. 85)
    assert order[18:20] == ["slow", "urgent-18"]


def test_never_more_than_the_credit_minus_in_flight() -> None:
    board = DispatchBoard()
    for n in range(10):
        board.add(ready(f"j{n}", at_s=n))
    board.offer(credit("w", free=3))
    assert len(board.match(T0)) == 3
    board.offer(credit("w", free=3, received=1, at_s=1))  # 2 of those 3 are still in flight
    assert len(board.match(T0 + timedelta(seconds=1))) == 1
    assert len(board.match(T0 + timedelta(seconds=1))) == 0


def test_requirements_and_labels_choose_the_worker() -> None:
    board = DispatchBoard()
    board.add(ready("gpu-job", gpu="true"))
    board.add(ready("big-job", memory_mb=100_000))
    board.offer(credit("plain", free=4))
    board.offer(credit("gpu", free=1, gpu="true"))
    matches = board.match(T0)
    assert [(m.job.job_id, m.worker_id) for m in matches] == [("gpu-job", "gpu")]
    assert "big-job" in board.ready  # no worker has the memory: it waits


def test_expired_credits_and_withdrawn_jobs_are_ignored() -> None:
    board = DispatchBoard(credit_ttl_s=10)
    board.add(ready("a"))
    board.add(ready("b"))
    board.withdraw("a", attempt=1)
    board.offer(credit("w", free=5))
    assert board.match(T0 + timedelta(seconds=11)) == []
    assert [m.job.job_id for m in board.match(T0 + timedelta(seconds=5))] == ["b"]


def test_add_is_idempotent_and_a_newer_attempt_wins() -> None:
    board = DispatchBoard()
    board.add(ready("a", attempt=1))
    board.add(ready("a", attempt=1))
    board.add(ready("a", attempt=2))
    board.add(ready("a", attempt=1))  # a late duplicate of the old attempt
    board.offer(credit("w", free=5))
    assert [(m.job.job_id, m.job.attempt) for m in board.match(T0)] == [("a", 2)]
    board.add(ready("a", attempt=2))  # redelivered after it was assigned
    board.offer(credit("w", free=5, received=1))
    assert board.match(T0) == []


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 10), st.floats(0, 100)), max_size=40),
       st.lists(st.tuples(st.sampled_from(["w1", "w2", "w3"]), st.integers(0, 5)), min_size=1, max_size=10))
def test_no_worker_gets_more_than_its_room_and_each_job_goes_once(jobs, offers) -> None:  # type: ignore[no-untyped-def]
    board = DispatchBoard()
    for n, (priority, at_s) in enumerate(jobs):
        board.add(ready(f"j{n}", priority, at_s))
    assigned: list[str] = []
    received = {"w1": 0, "w2": 0, "w3": 0}
    for worker, free in offers:
        board.offer(credit(worker, free=free, received=received[worker]))
        matches = board.match(T0)
        per_worker = [m.worker_id for m in matches]
        assert per_worker.count(worker) <= free
        for match in matches:
            received[match.worker_id] += 1
        assigned += [m.job.job_id for m in matches]
    assert len(assigned) == len(set(assigned))


def needing(job_id: str, cpu: float = 0, memory_mb: int = 0, at_s: float = 0.0, queue: str = "default") -> JobReady:
    job_spec = spec(queue=queue, requirements=Requirements(cpu=cpu, memory_mb=memory_mb))
    return JobReady(job_id=job_id, execution_id=f"{job_id}.1", attempt=1, queue=queue, priority=5, spec=job_spec,
                    enqueued_at=T0 + timedelta(seconds=at_s))


def test_cpu_and_memory_on_their_way_to_a_worker_count_against_its_credit() -> None:
    # Given a worker with 4 cores, 4096 MiB and 10 free slots
    board = DispatchBoard()
    for n in range(5):
        board.add(needing(f"j{n}", cpu=1.5, memory_mb=1000, at_s=n))
    board.offer(credit("w", free=10, cpu=4, memory=4096))
    # Then only two 1.5-core jobs go (a third would need 4.5 cores)
    assert [m.job.job_id for m in board.match(T0)] == ["j0", "j1"]
    # When the worker has received one and runs it (its credit is net of what runs), nothing more fits
    board.offer(credit("w", free=9, received=1, cpu=2.5, memory=3096, at_s=1))
    assert board.match(T0 + timedelta(seconds=1)) == []
    # When both finished, two more go
    board.offer(credit("w", free=10, received=2, cpu=4, memory=4096, at_s=2))
    assert [m.job.job_id for m in board.match(T0 + timedelta(seconds=2))] == ["j2", "j3"]


def test_a_queue_limit_counts_running_and_in_transit_executions() -> None:
    board = DispatchBoard(queue_limits={"gpu": 2})
    for n in range(5):
        board.add(ready(f"g{n}", queue="gpu", at_s=n))
        board.add(ready(f"d{n}", queue="default", at_s=n))
    board.offer(credit("w1", free=4, queue="gpu"))
    board.offer(credit("w2", free=4, queue="gpu"))
    board.offer(credit("w1", free=5, queue="default"))
    matches = board.match(T0)
    assert sorted(m.job.job_id for m in matches if m.job.queue == "gpu") == ["g0", "g1"]
    assert len([m for m in matches if m.job.queue == "default"]) == 5  # no limit there
    # Both received and running: still two in flight, nothing more
    board.offer(WorkerCredit(worker_id="w1", queue="gpu", free_slots=3, received=1, cpu_free=8, memory_mb_free=8192,
                             issued_at=T0 + timedelta(seconds=1), running=1))
    board.offer(WorkerCredit(worker_id="w2", queue="gpu", free_slots=3, received=1, cpu_free=8, memory_mb_free=8192,
                             issued_at=T0 + timedelta(seconds=1), running=1))
    assert board.match(T0 + timedelta(seconds=1)) == []
    # One finished: one more goes
    board.offer(WorkerCredit(worker_id="w2", queue="gpu", free_slots=4, received=1, cpu_free=8, memory_mb_free=8192,
                             issued_at=T0 + timedelta(seconds=2), running=0))
    assert [m.job.job_id for m in board.match(T0 + timedelta(seconds=2))] == ["g2"]


def test_unplaceable_jobs_do_not_hold_up_the_rest_and_are_skipped_as_one_shape() -> None:
    board = DispatchBoard()
    for n in range(10_000):  # more urgent, but too big for any worker
        board.add(ready(f"big-{n}", priority=1, memory_mb=100_000, at_s=n / 1000))
    board.add(ready("small", priority=9))
    board.offer(credit("w", free=1))
    assert [m.job.job_id for m in board.match(T0)] == ["small"]
    assert len(board._shapes) == 1  # the big ones, one shape, untouched


def test_a_forgotten_worker_gets_nothing_even_from_a_late_credit() -> None:
    board = DispatchBoard()
    board.add(ready("a"))
    board.offer(credit("w", free=2, at_s=0))
    board.forget_worker("w", at=T0 + timedelta(seconds=1))
    board.offer(credit("w", free=2, at_s=0.5))  # issued before it was declared gone: void
    assert board.match(T0 + timedelta(seconds=2)) == []
    board.offer(credit("w", free=2, at_s=3))  # it is back (a paused worker woke up)
    assert [m.worker_id for m in board.match(T0 + timedelta(seconds=3))] == ["w"]


def test_an_updated_job_moves_to_its_new_shape() -> None:
    board = DispatchBoard()
    board.add(ready("a", memory_mb=100_000))
    board.withdraw("a", attempt=1)
    board.add(ready("a", memory_mb=10))
    board.offer(credit("w", free=5))
    assert [m.job.job_id for m in board.match(T0)] == ["a"]
    board.offer(credit("w", free=5, received=1))
    assert board.match(T0) == [] and board.ready == {}


@pytest.mark.parametrize("text, expected", [("", {}), ("default=100, gpu=2", {"default": 100, "gpu": 2}),
                                            ("a=0,", {"a": 0})])
def test_queue_limits_parse(text: str, expected: dict[str, int]) -> None:
    assert parse_queue_limits(text) == expected


@pytest.mark.parametrize("text", ["gpu", "gpu=two", "=3", "gpu=-1"])
def test_bad_queue_limits_name_the_entry(text: str) -> None:
    with pytest.raises(ValueError, match=text.split(",")[0].replace("-", "\\-")):
        parse_queue_limits(text)


@settings(max_examples=150, deadline=None)
@given(priority=st.integers(1, 10), step=st.floats(0.5, 20), service=st.floats(0.05, 2.0),
       spacing=st.floats(1.0, 3.0), slow_at=st.floats(0, 60), slots=st.integers(1, 3))
def test_no_starvation_beyond_the_aging_bound_under_a_flood(priority: int, step: float, service: float,
                                                            spacing: float, slow_at: float, slots: int) -> None:
    """A simulated flood of priority-1 jobs, one every ``spacing * service / slots`` seconds (the
    workers keep up), and one job of ``priority``: it starts within (priority - 1) * step plus
    the flood's own wait (at most a service time per job ahead of it)."""
    board = DispatchBoard(aging_step_s=step)
    interval = spacing * service / slots
    horizon = slow_at + (priority - 1) * step + 10 * service + 5
    arrivals = [(n * interval, f"u{n}", 1) for n in range(int(horizon / interval) + 1)] + [(slow_at, "slow", priority)]
    arrivals.sort()
    busy_until: list[float] = [0.0] * slots  # one worker, ``slots`` slots, each busy until then
    received, started = 0, {}
    clock, i = 0.0, 0
    while "slow" not in started:
        # next moment something happens: an arrival or a slot freeing up
        next_free = min((t for t in busy_until if t > clock), default=math.inf)
        next_arrival = arrivals[i][0] if i < len(arrivals) else math.inf
        clock = min(next_free, next_arrival)
        assert clock < math.inf
        while i < len(arrivals) and arrivals[i][0] <= clock:
            at, job_id, p = arrivals[i]
            board.add(ready(job_id, p, at_s=at))
            i += 1
        free = [n for n, t in enumerate(busy_until) if t <= clock]
        now = T0 + timedelta(seconds=clock)
        board.offer(credit("w", free=len(free), received=received, at_s=clock))
        for slot, match in zip(free, board.match(now), strict=False):
            received += 1
            started[match.job.job_id] = clock
            busy_until[slot] = clock + service
    flood_wait = max((started[j] - at for at, j, _ in arrivals if j in started and j != "slow"), default=0.0)
    assert started["slow"] - slow_at <= (priority - 1) * step + flood_wait + 2 * service + 1e-6


def test_a_worker_restarted_under_the_same_id_gets_work_again() -> None:
    board = DispatchBoard()
    for n in range(10):
        board.add(ready(f"j{n}", at_s=n))
    board.offer(credit("w", free=3, received=5))
    assert len(board.match(T0)) == 3  # sent 8 in all; the old process received 5
    board.offer(credit("w", free=3, received=0, at_s=1))  # a new process counts from zero
    assert len(board.match(T0 + timedelta(seconds=1))) == 3


def sequenced(worker: str, free: int, received: int, seq: int, incarnation: int = 1, at_s: float = 0.0) -> WorkerCredit:
    return dataclasses.replace(credit(worker, free, received, at_s), incarnation=incarnation, seq=seq)


def test_a_stale_credit_overtaking_a_newer_one_changes_nothing() -> None:
    board = DispatchBoard()
    for n in range(3):
        board.add(ready(f"j{n}", at_s=n))
    first = sequenced("w", free=1, received=0, seq=1)
    board.offer(first)
    assert len(board.match(T0)) == 1
    board.offer(sequenced("w", free=0, received=1, seq=2))  # it runs the one it got
    board.offer(first)  # replayed after a restart, or reordered: it would say a slot is free
    assert board.match(T0) == []
    board.offer(sequenced("w", free=0, received=1, seq=2))  # a plain repeat
    assert board.match(T0) == []


def test_a_new_process_under_the_same_id_counts_from_its_own_received() -> None:
    board = DispatchBoard()
    for n in range(3):
        board.add(ready(f"j{n}", at_s=n))
    board.offer(sequenced("w", free=1, received=7, seq=40, incarnation=1))
    assert len(board.match(T0)) == 1  # sent 8; the old process dies before receiving it
    board.offer(sequenced("w", free=1, received=0, seq=1, incarnation=2))
    assert len(board.match(T0)) == 1  # the new process's room is its own
    board.offer(sequenced("w", free=1, received=7, seq=41, incarnation=1))  # the old one's last word, late
    assert board.match(T0) == []


def test_a_replayed_credit_counts_but_places_nothing_until_a_live_one_comes() -> None:
    board = DispatchBoard()
    board.add(ready("j0"))
    board.offer(sequenced("w", free=1, received=3, seq=9), live=False)  # read again after a restart
    assert board.match(T0) == []
    board.offer(sequenced("w", free=1, received=4, seq=10))
    assert [m.job.job_id for m in board.match(T0)] == ["j0"]

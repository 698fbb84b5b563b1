"""The dispatch board: priority order with aging, pull credits, resource and label matching."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from jobstream.core.dispatch import DispatchBoard
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

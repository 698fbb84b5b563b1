"""A namespace's in-flight cap on the dispatch board: what its workers run and what is on its way."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from jobstream.core.dispatch import DispatchBoard
from jobstream.schemas import JobReady, WorkerCredit
from tests.unit.test_dispatch_board import credit, ready


def of(namespace: str, job: JobReady) -> JobReady:
    return dataclasses.replace(job, namespace=namespace)


def running(base: WorkerCredit, **per_namespace: int) -> WorkerCredit:
    return dataclasses.replace(base, running_namespaces=per_namespace, running=sum(per_namespace.values()))


def placed(board: DispatchBoard, at_s: float = 0.0) -> list[str]:
    from tests.unit.builders import T0

    return [m.job.job_id for m in board.match(T0 + timedelta(seconds=at_s))]


def test_no_more_than_the_cap_go_however_many_slots() -> None:
    board = DispatchBoard(namespace_caps={"acme": 2})
    for n in range(5):
        board.add(of("acme", ready(f"a{n}", at_s=n)))
    board.offer(credit("w", free=10))
    assert placed(board) == ["a0", "a1"]
    assert placed(board) == []  # both on their way: still in flight


def test_without_a_cap_every_slot_is_used() -> None:
    board = DispatchBoard()
    for n in range(5):
        board.add(of("acme", ready(f"a{n}", at_s=n)))
    board.offer(credit("w", free=10))
    assert len(placed(board)) == 5


def test_a_namespace_at_its_cap_does_not_hold_back_another_in_the_same_queue() -> None:
    board = DispatchBoard(namespace_caps={"acme": 1})
    board.add(of("acme", ready("a0", at_s=0)))
    board.add(of("acme", ready("a1", at_s=1)))
    board.add(of("beta", ready("b0", at_s=2)))
    board.offer(credit("w", free=10))
    assert placed(board) == ["a0", "b0"]


def test_what_workers_report_running_counts_until_they_report_it_done() -> None:
    board = DispatchBoard(namespace_caps={"acme": 2})
    for n in range(4):
        board.add(of("acme", ready(f"a{n}", at_s=n)))
    board.offer(credit("w", free=10))
    assert placed(board) == ["a0", "a1"]
    board.offer(running(credit("w", free=8, received=2, at_s=1), acme=2))  # received, both running
    assert placed(board, 1) == []
    board.offer(running(credit("w", free=9, received=2, at_s=2), acme=1))  # one finished
    assert placed(board, 2) == ["a2"]


def test_the_count_spans_the_queues_and_workers_the_board_holds() -> None:
    board = DispatchBoard(namespace_caps={"acme": 3})
    board.add(of("acme", ready("slow", queue="q2")))
    board.offer(running(credit("w1", free=5, queue="q1"), acme=2))
    board.offer(running(credit("w2", free=5, queue="q2"), acme=1))
    assert placed(board) == []
    board.offer(running(credit("w1", free=5, queue="q1", at_s=1), acme=1))
    assert placed(board, 1) == ["slow"]


def test_a_restarted_board_counts_replayed_credits_and_places_only_the_room_left() -> None:
    caps = {"acme": 2}
    board = DispatchBoard(namespace_caps=caps).renewed(of("acme", ready(f"a{n}", at_s=n)) for n in range(3))
    board.offer(running(credit("w", free=8, received=2), acme=2), live=False)  # read again after the restart
    assert placed(board) == []
    board.offer(running(credit("w", free=9, received=2, at_s=1), acme=1))
    assert placed(board, 1) == ["a0"]


def test_a_cap_set_or_lifted_at_run_time_applies_at_the_next_match() -> None:
    caps: dict[str, int] = {}
    board = DispatchBoard(namespace_caps=caps)
    for n in range(4):
        board.add(of("acme", ready(f"a{n}", at_s=n)))
    caps["acme"] = 1
    board.offer(credit("w", free=10))
    assert placed(board) == ["a0"]
    del caps["acme"]
    assert placed(board) == ["a1", "a2", "a3"]


def test_the_count_beside_the_cap_says_when_a_namespace_is_at_it() -> None:
    board = DispatchBoard(namespace_caps={"acme": 3, "idle": 5})
    board.offer(running(credit("w1", free=5, queue="q1"), acme=2))
    board.add(of("acme", ready("a0", queue="q1")))
    assert board.namespace_in_flight() == {"acme": 2, "idle": 0}
    assert placed(board) == ["a0"]  # on its way: counted too
    assert board.namespace_in_flight() == {"acme": 3, "idle": 0}

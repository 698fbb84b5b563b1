"""When a bench stops waiting: after its timeout without progress, not after its timeout in all."""

from __future__ import annotations

from jobstream.bench import Stall


def test_a_run_that_keeps_finishing_work_is_never_a_stall() -> None:
    stall = Stall(timeout_s=10, remaining=1000, now=0)
    for second in range(1, 100):  # one job finishes every second: far past the timeout in all
        assert not stall.reached(1000 - second, now=float(second))


def test_nothing_finished_for_the_timeout_is_a_stall() -> None:
    stall = Stall(timeout_s=10, remaining=1000, now=0)
    assert not stall.reached(990, now=5)
    assert not stall.reached(990, now=15)  # ten seconds since the last job finished, not more
    assert stall.reached(990, now=15.1)


def test_nothing_ever_finishing_is_a_stall_after_the_timeout() -> None:
    stall = Stall(timeout_s=10, remaining=3, now=100)
    assert not stall.reached(3, now=110)
    assert stall.reached(3, now=110.5)

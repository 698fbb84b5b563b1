"""The projector's one batch in flight: calls run one at a time, in order, off the caller's thread."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from jobstream.projections.inflight import InFlight


@pytest.fixture
def writer() -> Iterator[InFlight[int]]:
    writer: InFlight[int] = InFlight("test-writer")
    yield writer
    writer.close()


def test_the_caller_works_on_while_the_call_runs_and_settle_returns_its_result(writer: InFlight[int]) -> None:
    # Given a call that cannot finish until the caller has done something after starting it
    release = threading.Event()
    ran_on: list[threading.Thread] = []

    def call() -> int:
        ran_on.append(threading.current_thread())
        assert release.wait(10), "the caller was blocked by start()"
        return 42

    # When the caller starts it and carries on
    writer.start(call)
    assert writer.busy
    release.set()

    # Then settle waits for the call, returns its result, and nothing is in flight any more
    assert writer.settle() == 42
    assert not writer.busy and ran_on != [threading.current_thread()]
    assert writer.settle() is None


def test_a_second_call_waits_for_the_first_to_be_settled(writer: InFlight[int]) -> None:
    order: list[int] = []

    def step(n: int) -> int:
        order.append(n)
        return n

    writer.start(lambda: step(1))
    with pytest.raises(RuntimeError):
        writer.start(lambda: step(2))
    assert writer.settle() == 1
    writer.start(lambda: step(3))
    assert writer.settle() == 3
    assert order == [1, 3]


def test_the_error_of_a_call_is_raised_by_settle_and_clears_it(writer: InFlight[int]) -> None:
    def failing() -> int:
        raise ConnectionError("database went away")

    writer.start(failing)
    with pytest.raises(ConnectionError, match="database went away"):
        writer.settle()
    assert not writer.busy
    writer.start(lambda: 7)  # the writer is usable again (the projector reconnects, then goes on)
    assert writer.settle() == 7

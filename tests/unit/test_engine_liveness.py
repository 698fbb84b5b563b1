"""The engine's watch over its own loop: it ends a process whose loop stopped turning, and ends
with the loop, so that a process that goes on after its engine is never ended by it."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from jobstream.streams.engine import liveness as liveness_module
from jobstream.streams.engine.liveness import STALLED_EXIT_CODE, Liveness

LIMIT_S = 0.4  # the watch looks every LIMIT_S / 4
DEADLINE_S = 10.0


@pytest.fixture
def exits(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The exit codes the watch asked for, instead of ending the test's process."""
    codes: list[int] = []
    monkeypatch.setattr(liveness_module.os, "_exit", codes.append)
    monkeypatch.setattr(liveness_module.logging, "shutdown", lambda: None)
    return codes


def _until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not condition():
        assert time.monotonic() < deadline, f"not within {DEADLINE_S}s: {what}"
        time.sleep(0.02)  # polling with a deadline


def test_a_loop_that_stops_turning_ends_the_process(exits: list[int]) -> None:
    watch = Liveness(LIMIT_S)
    watch.start()
    _until(lambda: bool(exits), "the watch asks to exit")
    watch.stop()
    assert exits[0] == STALLED_EXIT_CODE


def test_a_stopped_watch_ends_and_never_ends_the_process(exits: list[int]) -> None:
    watch = Liveness(LIMIT_S)
    watch.start()
    watch.stop()
    _until(watch.stopped, "the watch ends")
    assert exits == []

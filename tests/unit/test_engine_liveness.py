"""The engine's watch over its own loop: it ends a process whose loop stopped turning, and ends
with the loop, so that a process that goes on after its engine is never ended by it."""

from __future__ import annotations

import pytest

from jobstream.infra.process import wait_until
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


def test_a_loop_that_stops_turning_ends_the_process(exits: list[int]) -> None:
    watch = Liveness(LIMIT_S)
    watch.start()
    wait_until(lambda: bool(exits), DEADLINE_S, "the watch asks to exit", interval_s=0.02)
    watch.stop()
    assert exits[0] == STALLED_EXIT_CODE


def test_a_stopped_watch_ends_and_never_ends_the_process(exits: list[int]) -> None:
    watch = Liveness(LIMIT_S)
    watch.start()
    watch.stop()
    wait_until(watch.stopped, DEADLINE_S, "the watch ends", interval_s=0.02)
    assert exits == []

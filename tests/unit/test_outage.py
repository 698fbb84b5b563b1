"""An outage is logged as a change of state, and a library's repeated lines are counted, not written."""

from __future__ import annotations

import logging

import pytest

from jobstream.logging_setup import RepeatedLines
from jobstream.outage import Gate, Outage


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_an_outage_is_three_kinds_of_line_not_one_per_failure(caplog: pytest.LogCaptureFixture) -> None:
    outage = Outage("the broker", logging.getLogger("test.outage"), remind_every_s=30)
    with caplog.at_level(logging.WARNING, "test.outage"):
        assert outage.failed("refused", now=0.0)
        for second in range(1, 65):
            assert not outage.failed("refused", now=float(second))
        assert outage.recovered(now=70.0)
        assert not outage.recovered(now=71.0)
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0] == "the broker does not answer: refused"
    assert [line.split(" after ")[1] for line in lines[1:3]] == ["30 s (31 failures): refused",
                                                                 "60 s (61 failures): refused"]
    assert lines[3] == "the broker answers again, after 70.0 s (65 failures)"
    assert len(lines) == 4


def test_a_gate_lets_one_probe_a_second_through_while_down() -> None:
    clock = Clock()
    changes: list[bool] = []
    gate = Gate(Outage("db", logging.getLogger("test.gate")), probe_every_s=1.0, clock=clock, on_change=changes.append)
    assert gate.may_try() and not gate.down
    gate.mark_down("gone")
    gate.mark_down("still gone")
    clock.now = 0.5
    assert not gate.may_try()  # the failure itself was the last try
    clock.now = 1.0
    assert gate.may_try()
    assert not gate.may_try()  # one probe a second
    clock.now = 2.1
    assert gate.may_try()
    gate.mark_up()
    gate.mark_up()
    assert not gate.down and gate.may_try() and changes == [True, False]


def record(name: str, message: str) -> logging.LogRecord:
    return logging.LogRecord(name, logging.ERROR, __file__, 1, message, (), None)


def test_a_librarys_repeated_line_is_written_once_a_window_with_a_count() -> None:
    clock = Clock()
    repeated = RepeatedLines(window_s=30, clock=clock)
    lines = []
    for attempt in range(100):  # a reconnect loop: the numbers change, the words do not
        clock.now = attempt * 0.5
        line = record("librdkafka", f"FAIL [rdkafka#consumer-{attempt % 3}]: Connect to 127.0.0.1:{9000 + attempt} "
                                    "failed: Connection refused")
        if repeated.filter(line):
            lines.append(line.getMessage())
    assert len(lines) == 2  # at 0 s and at 30 s
    assert lines[1].endswith("(59 like it left out)")


def test_our_own_lines_and_different_lines_are_all_written() -> None:
    repeated = RepeatedLines(window_s=30, clock=Clock())
    assert all(repeated.filter(record("jobstream.worker", "handing back e-1: no room")) for _ in range(3))
    assert repeated.filter(record("aiokafka", "Unable connect to node 1"))
    assert repeated.filter(record("aiokafka", "Group Coordinator Request failed"))
    assert not repeated.filter(record("aiokafka", "Unable connect to node 2"))

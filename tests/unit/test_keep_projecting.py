"""The projectors' loop: a failed batch is retried after a backoff and a recovery, never skipped."""

from __future__ import annotations

import logging
import threading

import psycopg
import pytest

from jobstream.projections.store import keep_projecting


def test_a_failed_batch_is_recovered_and_retried_and_a_success_restarts_the_backoff(
        caplog: pytest.LogCaptureFixture) -> None:
    # Given batches that fail twice in a row, succeed, fail once, succeed, then stop
    stop = threading.Event()
    outcomes: list[Exception | None] = [psycopg.OperationalError("down"), psycopg.OperationalError("down"), None,
                                        psycopg.OperationalError("down"), None]
    calls: list[str] = []

    def poll_once() -> None:
        calls.append("poll")
        if not outcomes:
            stop.set()
            return
        outcome = outcomes.pop(0)
        if outcome is not None:
            raise outcome

    # When the loop runs
    with caplog.at_level(logging.WARNING, logger="jobstream.projections.store"):
        keep_projecting(poll_once, lambda: calls.append("recover"), stop, "test", max_backoff_s=5.0)

    # Then each failure is followed by a recovery and the same batch again, and each outage is
    # logged once when it starts and once when it ends, not once per failed attempt
    assert calls == ["poll", "recover", "poll", "recover", "poll", "poll", "recover", "poll", "poll"]
    lines = [record.getMessage() for record in caplog.records]
    assert [line.split(" (test projector) ")[1].split(",")[0].split(":")[0] for line in lines] == [
        "does not answer", "answers again", "does not answer", "answers again"]
    assert "(2 failures)" in lines[1] and "(1 failures)" in lines[3]


def test_stopping_while_batches_fail_ends_the_loop() -> None:
    # Given a database that stays down, and a stop asked for during the first recovery
    stop = threading.Event()

    def poll_once() -> None:
        raise psycopg.OperationalError("down")

    # When the loop runs, then it returns instead of raising or spinning
    keep_projecting(poll_once, stop.set, stop, "test", max_backoff_s=5.0)
    assert stop.is_set()

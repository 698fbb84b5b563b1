"""The fetch guard's rule: records waiting beyond a position that does not move (pure)."""

from __future__ import annotations

from jobstream.streams.fetch_guard import Waiting, waiting


def test_nothing_waits_at_the_end() -> None:
    assert waiting(None, position=5, end=5, now=1.0) is None
    assert waiting(Waiting(3, 0.0), position=5, end=5, now=9.0) is None


def test_records_beyond_the_position_wait_from_when_first_seen() -> None:
    first = waiting(None, position=3, end=5, now=1.0)
    assert first == Waiting(3, 1.0)
    assert waiting(first, position=3, end=7, now=20.0) == Waiting(3, 1.0)  # unmoved: still since 1.0


def test_a_position_that_moved_starts_the_wait_again() -> None:
    assert waiting(Waiting(3, 1.0), position=4, end=7, now=20.0) == Waiting(4, 20.0)

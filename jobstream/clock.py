"""The wall clock, in one place: the edges read it and pass ``now`` into the pure core."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)

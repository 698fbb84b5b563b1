"""The wall clock and randomness, in one place: the edges read them and pass them into the pure core."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime

from jobstream.core.ids import ENTROPY_BYTES, job_id_at


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_job_id(now_ms: int | None = None) -> str:
    """A new time-ordered job id, made now (or at ``now_ms``) with the system's randomness."""
    return job_id_at(time.time_ns() // 1_000_000 if now_ms is None else now_ms, os.urandom(ENTROPY_BYTES))

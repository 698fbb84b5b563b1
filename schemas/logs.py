"""Log records (jobstream.logs): executions' output on the logs topic, keyed by execution_id.

Not job events: output is bulky and is never part of a job's state, so it travels on its own
topic and has its own projection (projections/logs.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from .base import Record


@dataclass(frozen=True, slots=True, kw_only=True)
class LogChunk(Record):
    """A piece of one execution's output; (execution_id, seq) is gap-free from 1."""

    avro_name: ClassVar[str] = "jobstream.logs.LogChunk"
    execution_id: str
    job_id: str
    attempt: int
    worker_id: str
    seq: int
    stream: str
    data: str
    at: datetime
    truncated: bool = False
    eof: bool = False
    dropped_bytes: int = 0


RECORDS: tuple[type[Record], ...] = (LogChunk,)

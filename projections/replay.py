"""Replay: rebuild the read model from the topics, from offset 0 to their current end.

The replaying consumer assigns every partition itself under a group id of its own, so the live
projector's group is not disturbed. Undecodable messages are counted, not set aside again: the
live projector already put them on the poison topic. Stop the live projector of the same schema first (or replay
into another schema): both would write the same tables while the replay drops and rebuilds them.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

from jobstream.config import Settings

from .projector import Projector
from .schema import DEFAULT_SCHEMA, connect, drop_schema, ensure_schema
from .store import count_rows


def replay(settings: Settings, schema: str = DEFAULT_SCHEMA, timeout_s: float = 3600.0,
           progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Drop and recreate ``schema``, project both topics into it; returns what was read and written."""
    with connect(settings.database_url, schema) as conn:
        drop_schema(conn, schema)
        ensure_schema(conn, schema)
    started = time.perf_counter()
    group = f"{settings.topic_prefix}.replay.{uuid.uuid4().hex[:12]}"
    with Projector(settings, schema, group_id=group, manual=True, publish_poison=False) as projector:
        counts = projector.run_until_caught_up(timeout_s, progress)
        rows = count_rows(projector.conn)
    return {
        "schema": schema,
        "messages": counts.messages,
        "applied": counts.applied,
        "duplicates": counts.duplicates,
        "poisoned": counts.poisoned,
        "rows": rows,
        "seconds": round(time.perf_counter() - started, 3),
    }


def replay_command(settings: Settings, schema: str = DEFAULT_SCHEMA,
                   progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """What ``jobstream replay`` calls."""
    return replay(settings, schema, progress=progress)

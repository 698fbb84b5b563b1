"""Identifiers: time-ordered job ids, and deterministic ones for idempotency keys."""

from __future__ import annotations

import os
import time
import uuid

IDEMPOTENCY_NAMESPACE = uuid.UUID("6f1d2a4e-7c0b-4e55-9a51-1c8f3f1b9d2e")


def new_job_id(now_ms: int | None = None) -> str:
    """A UUIDv7 (RFC 9562): ids sort by creation time, which keeps cursor pagination cheap."""
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & (2**48 - 1)) << 80 | 0x7 << 76 | (rand >> 68 & 0xFFF) << 64 | 0b10 << 62 | rand & (2**62 - 1)
    return str(uuid.UUID(int=value))


def job_id_for_idempotency_key(key: str) -> str:
    """The same key always names the same job, so a repeated submit finds the first one."""
    return str(uuid.uuid5(IDEMPOTENCY_NAMESPACE, key))

"""Identifiers: time-ordered job ids, and deterministic ones for idempotency keys. Pure: the time
and the randomness of a new id come from the caller (``jobstream.clock.new_job_id`` at the edges)."""

from __future__ import annotations

import uuid

IDEMPOTENCY_NAMESPACE = uuid.UUID("6f1d2a4e-7c0b-4e55-9a51-1c8f3f1b9d2e")
ENTROPY_BYTES = 10  # 74 random bits are used: rand_a (12) and rand_b (62)


def job_id_at(now_ms: int, entropy: bytes) -> str:
    """A UUIDv7 (RFC 9562) created at ``now_ms`` (Unix milliseconds) from ``ENTROPY_BYTES`` random
    bytes: ids sort by creation time, which keeps cursor pagination cheap."""
    if len(entropy) != ENTROPY_BYTES:
        raise ValueError(f"a job id takes {ENTROPY_BYTES} random bytes, not {len(entropy)}")
    rand = int.from_bytes(entropy, "big")
    value = (now_ms & (2**48 - 1)) << 80 | 0x7 << 76 | (rand >> 68 & 0xFFF) << 64 | 0b10 << 62 | rand & (2**62 - 1)
    return str(uuid.UUID(int=value))


def job_id_for_idempotency_key(key: str, namespace: str = "default") -> str:
    """The same key always names the same job, so a repeated submit finds the first one; within
    its namespace only, so that two namespaces' keys never name one job (ids of the default
    namespace are as they were before namespaces)."""
    return str(uuid.uuid5(IDEMPOTENCY_NAMESPACE, key if namespace == "default" else f"{namespace}\x00{key}"))

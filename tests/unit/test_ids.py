"""Job ids: pure UUIDv7s from the caller's time and randomness; the edge's ids sort by creation time."""

from __future__ import annotations

import uuid

import pytest

from jobstream.clock import new_job_id
from jobstream.core.ids import ENTROPY_BYTES, job_id_at, job_id_for_idempotency_key

T_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z


def test_the_same_time_and_randomness_make_the_same_version_7_id() -> None:
    entropy = bytes(range(ENTROPY_BYTES))
    job_id = job_id_at(T_MS, entropy)
    parsed = uuid.UUID(job_id)
    assert job_id == job_id_at(T_MS, entropy)
    assert (parsed.version, parsed.variant) == (7, uuid.RFC_4122)
    assert parsed.int >> 80 == T_MS  # the first 48 bits are the creation time


def test_ids_sort_by_creation_time_whatever_their_randomness() -> None:
    earlier, later = job_id_at(T_MS, b"\xff" * ENTROPY_BYTES), job_id_at(T_MS + 1, b"\x00" * ENTROPY_BYTES)
    assert earlier < later


def test_randomness_of_the_wrong_size_is_refused() -> None:
    with pytest.raises(ValueError, match="10 random bytes"):
        job_id_at(T_MS, b"short")


def test_the_edge_makes_distinct_ids_at_a_given_time() -> None:
    ids = {new_job_id(now_ms=T_MS) for _ in range(100)}
    assert len(ids) == 100 and all(uuid.UUID(i).int >> 80 == T_MS for i in ids)


def test_an_idempotency_key_always_names_the_same_job() -> None:
    assert job_id_for_idempotency_key("k") == job_id_for_idempotency_key("k") != job_id_for_idempotency_key("l")

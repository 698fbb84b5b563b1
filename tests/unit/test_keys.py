"""API keys, pure (core/keys.py): tokens, the fold of the keys topic, and when a key is refused."""

from __future__ import annotations

from datetime import timedelta

import pytest

from jobstream.core.keys import fold_key, new_token, parse_duration, parse_token, refusal
from jobstream.schemas import KeyCreated, KeyRevoked
from tests.unit.builders import T0


def created(key_id: str = "00112233aabbccdd", expires_at=None) -> KeyCreated:  # type: ignore[no-untyped-def]
    return KeyCreated(key_id=key_id, namespace="acme", role="operator", secret_hash="$argon2id$...",
                      created_at=T0, expires_at=expires_at, actor="cli:me@host")


def test_a_token_carries_its_key_id_and_secret_and_parses_back() -> None:
    token = new_token(bytes(range(40)))
    assert token.token.startswith("jsk_0001020304050607.")
    assert parse_token(token.token) == token
    assert parse_token("jsk_short.secret") is None
    assert parse_token("eyJhbGciOi.x.y") is None
    with pytest.raises(ValueError):
        new_token(b"too short")


def test_the_fold_knows_created_keys_and_their_revocation_and_duplicates_are_harmless() -> None:
    keys: dict = {}  # type: ignore[type-arg]
    for record in (created(), created(), KeyRevoked(key_id="00112233aabbccdd", revoked_at=T0 + timedelta(1),
                                                    actor="cli"),
                   KeyRevoked(key_id="00112233aabbccdd", revoked_at=T0 + timedelta(2), actor="cli"),
                   KeyRevoked(key_id="unknown", revoked_at=T0, actor="cli")):
        fold_key(keys, record)
    assert list(keys) == ["00112233aabbccdd"]
    assert keys["00112233aabbccdd"].revoked_at == T0 + timedelta(1)
    assert refusal(keys["00112233aabbccdd"], T0) == "the API key was revoked"


def test_a_key_is_refused_from_its_expiry_on_and_an_unknown_one_always() -> None:
    keys: dict = {}  # type: ignore[type-arg]
    fold_key(keys, created(expires_at=T0 + timedelta(days=30)))
    key = keys["00112233aabbccdd"]
    assert refusal(key, T0 + timedelta(days=29)) is None
    assert refusal(key, T0 + timedelta(days=30)) == "the API key has expired"
    assert refusal(None, T0) == "unknown API key"


def test_a_worker_key_keeps_the_worker_id_it_is_bound_to_and_an_older_record_reads_unbound() -> None:
    keys: dict = {}  # type: ignore[type-arg]
    fold_key(keys, KeyCreated(key_id="w", namespace="acme", role="worker", secret_hash="h", created_at=T0,
                              actor="x", worker_id="w-1"))
    fold_key(keys, created())
    assert keys["w"].worker_id == "w-1" and keys["00112233aabbccdd"].worker_id is None


def test_a_key_of_a_role_nobody_knows_is_not_folded() -> None:
    keys: dict = {}  # type: ignore[type-arg]
    fold_key(keys, KeyCreated(key_id="k", namespace="acme", role="root", secret_hash="h", created_at=T0, actor="x"))
    assert keys == {}


def test_durations_read_as_the_cli_takes_them() -> None:
    assert parse_duration("30d") == timedelta(days=30)
    assert parse_duration("12h") == timedelta(hours=12)
    assert parse_duration("2w") == timedelta(weeks=2)
    for bad in ("0d", "30", "d", "3y", "-1d"):
        with pytest.raises(ValueError):
            parse_duration(bad)

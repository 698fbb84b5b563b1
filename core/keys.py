"""API keys, pure: tokens from random bytes, the key table as a fold of the keys topic, and whether
a key is accepted at a given time. Hashing (argon2id) and the topic are the edges' (api/keyring.py,
jobstream/keys_cli.py)."""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from jobstream.core.access import Role
from jobstream.schemas import KeyCreated, KeyEvent, KeyRevoked

TOKEN_PREFIX = "jsk_"  # recognisable in a leaked log or a secret scanner
_TOKEN = re.compile(r"^jsk_([0-9a-f]{16})\.([A-Za-z0-9_-]{43})$")
_DURATION = re.compile(r"^(\d+)([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


@dataclass(frozen=True, slots=True)
class NewToken:
    key_id: str
    secret: str

    @property
    def token(self) -> str:
        return f"{TOKEN_PREFIX}{self.key_id}.{self.secret}"


def new_token(random_bytes: bytes) -> NewToken:
    """A key id and a secret from 40 random bytes (8 for the id, 32 for the secret)."""
    if len(random_bytes) != 40:
        raise ValueError("a token needs 40 random bytes")
    secret = base64.urlsafe_b64encode(random_bytes[8:]).decode().rstrip("=")
    return NewToken(random_bytes[:8].hex(), secret)


def parse_token(token: str) -> NewToken | None:
    """The key id and secret of an API key token; None if it is not one."""
    match = _TOKEN.match(token)
    return NewToken(match.group(1), match.group(2)) if match else None


def parse_duration(text: str) -> timedelta:
    """``30d``, ``12h``, ``90m``, ``2w``, ``45s``; ValueError naming the form otherwise."""
    match = _DURATION.match(text.strip())
    if match is None or int(match.group(1)) == 0:
        raise ValueError(f"{text!r} is not a duration such as 30d, 12h, 90m, 2w")
    return timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])


@dataclass(frozen=True, slots=True)
class Key:
    """One key as the fold knows it."""

    key_id: str
    namespace: str
    role: Role
    name: str
    secret_hash: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None = None
    worker_id: str | None = None  # a worker key may act as this worker only; None: as any


def fold_key(keys: dict[str, Key], event: KeyEvent) -> None:
    """Apply one record of the keys topic to the table (in place; duplicates are harmless)."""
    match event:
        case KeyCreated() if event.key_id not in keys and event.role in Role.__members__.values():
            keys[event.key_id] = Key(event.key_id, event.namespace, Role(event.role), event.name,
                                     event.secret_hash, event.created_at, event.expires_at,
                                     worker_id=event.worker_id)
        case KeyRevoked() if event.key_id in keys and keys[event.key_id].revoked_at is None:
            keys[event.key_id] = replace(keys[event.key_id], revoked_at=event.revoked_at)


def refusal(key: Key | None, now: datetime) -> str | None:
    """Why a key is not accepted at ``now``; None if it is."""
    if key is None:
        return "unknown API key"
    if key.revoked_at is not None:
        return "the API key was revoked"
    if key.expires_at is not None and now >= key.expires_at:
        return "the API key has expired"
    return None

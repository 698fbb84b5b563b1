"""API key and quota records (jobstream.keys): the keys topic, keyed by key_id (quotas by
``quota:<namespace>``). Keys are events like the rest,
so the API's key table is a fold of this topic and a replay rebuilds it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from .base import Record


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyCreated(Record):
    avro_name: ClassVar[str] = "jobstream.keys.KeyCreated"
    key_id: str
    namespace: str
    role: str
    name: str = ""
    secret_hash: str  # argon2id PHC string: the secret itself is never stored
    created_at: datetime
    expires_at: datetime | None = None
    actor: str
    worker_id: str | None = None  # a worker key bound to this worker id; None: unbound


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyRevoked(Record):
    avro_name: ClassVar[str] = "jobstream.keys.KeyRevoked"
    key_id: str
    revoked_at: datetime
    actor: str


@dataclass(frozen=True, slots=True, kw_only=True)
class QuotaSet(Record):
    avro_name: ClassVar[str] = "jobstream.keys.QuotaSet"
    namespace: str
    submit_rate: float  # 0: the API's default namespace rate
    set_at: datetime
    actor: str
    max_in_flight: int | None = None  # executions assigned or running at once; None: no cap
    allow_shell: bool = False  # shell tasks may say shell: true (/bin/sh -c)


KeyEvent = KeyCreated | KeyRevoked
RECORDS: tuple[type[Record], ...] = (KeyCreated, KeyRevoked, QuotaSet)

"""Secret records (jobstream.secrets): the compacted secrets topic, keyed by ``dek:<namespace>/<dek_id>``
for data keys and ``secret:<namespace>/<name>`` for values. Only ciphertexts travel: values sealed
by a data key, data keys wrapped by a key-encryption key (core/secrets_crypto.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from .base import Record


@dataclass(frozen=True, slots=True, kw_only=True)
class DataKeyCreated(Record):
    avro_name: ClassVar[str] = "jobstream.secrets.DataKeyCreated"
    namespace: str
    dek_id: str
    kek_id: str
    wrapped: bytes
    created_at: datetime
    actor: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DataKeyDeleted(Record):
    avro_name: ClassVar[str] = "jobstream.secrets.DataKeyDeleted"
    namespace: str
    dek_id: str
    deleted_at: datetime
    actor: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SecretSet(Record):
    avro_name: ClassVar[str] = "jobstream.secrets.SecretSet"
    namespace: str
    name: str
    version: int
    dek_id: str
    sealed: bytes
    set_at: datetime
    actor: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SecretDeleted(Record):
    avro_name: ClassVar[str] = "jobstream.secrets.SecretDeleted"
    namespace: str
    name: str
    deleted_at: datetime
    actor: str


SecretRecord = DataKeyCreated | DataKeyDeleted | SecretSet | SecretDeleted
RECORDS: tuple[type[Record], ...] = (DataKeyCreated, DataKeyDeleted, SecretSet, SecretDeleted)

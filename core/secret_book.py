"""The secrets of every namespace as a fold of the secrets topic: which data keys live, which
secrets exist at which version, and how to open one. Pure: the KEKs are passed in.

Several data keys of a namespace may live at once (two APIs creating the first one together);
each value names the one that sealed it. Shredding deletes every data key of the namespace.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from jobstream.core.secrets_crypto import (
    KekRing,
    SecretUnreadable,
    new_key,
    open_value,
    seal_value,
    unwrap_dek,
    wrap_dek,
)
from jobstream.schemas import DataKeyCreated, DataKeyDeleted, SecretDeleted, SecretRecord, SecretSet

SECRET_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
_SECRET_NAME = re.compile(SECRET_NAME_PATTERN)


def valid_secret_name(name: str) -> bool:
    return _SECRET_NAME.fullmatch(name) is not None


def dek_key(namespace: str, dek_id: str) -> str:
    """The record key of a data key on the compacted topic (its deletion is written under it too)."""
    return f"dek:{namespace}/{dek_id}"


def secret_key(namespace: str, name: str) -> str:
    return f"secret:{namespace}/{name}"


@dataclass(frozen=True, slots=True)
class SecretInfo:
    """What may be shown of a secret: never its value."""

    namespace: str
    name: str
    version: int
    set_at: datetime
    actor: str


@dataclass
class SecretBook:
    deks: dict[tuple[str, str], DataKeyCreated] = field(default_factory=dict)
    values: dict[tuple[str, str], SecretSet] = field(default_factory=dict)
    versions: dict[tuple[str, str], int] = field(default_factory=dict)  # kept past a deletion: never reused
    shredded: set[tuple[str, str]] = field(default_factory=set)  # a data key deleted stays deleted

    def apply(self, record: SecretRecord) -> None:
        match record:
            case DataKeyCreated() if (record.namespace, record.dek_id) not in self.shredded:
                self.deks[(record.namespace, record.dek_id)] = record  # a rewrap arriving late is ignored
            case DataKeyDeleted():
                self.shredded.add((record.namespace, record.dek_id))
                self.deks.pop((record.namespace, record.dek_id), None)
            case SecretSet():
                where = (record.namespace, record.name)
                self.values[where] = record
                self.versions[where] = max(self.versions.get(where, 0), record.version)
            case SecretDeleted():
                self.values.pop((record.namespace, record.name), None)

    def listed(self, namespace: str) -> list[SecretInfo]:
        return [SecretInfo(s.namespace, s.name, s.version, s.set_at, s.actor)
                for (ns, _), s in sorted(self.values.items()) if ns == namespace]

    def next_version(self, namespace: str, name: str) -> int:
        return self.versions.get((namespace, name), 0) + 1

    def data_key(self, namespace: str) -> DataKeyCreated | None:
        """The namespace's newest live data key, which seals new values."""
        live = [d for (ns, _), d in self.deks.items() if ns == namespace]
        return max(live, key=lambda d: (d.created_at, d.dek_id), default=None)

    def data_keys_of(self, namespace: str) -> list[DataKeyCreated]:
        return [d for (ns, _), d in self.deks.items() if ns == namespace]

    def reveal(self, ring: KekRing, namespace: str, name: str) -> str:
        """The secret's value in clear; KeyError if there is none, SecretUnreadable if its data key is gone."""
        sealed = self.values[(namespace, name)]
        return open_sealed(ring, self.deks.get((namespace, sealed.dek_id)), sealed)


def open_sealed(ring: KekRing, dek: DataKeyCreated | None, sealed: SecretSet) -> str:
    """One SecretSet's value with its data key record (None: deleted, so it stays shut)."""
    if dek is None:
        raise SecretUnreadable(f"secret {sealed.name} of {sealed.namespace}: its data key {sealed.dek_id} was deleted")
    key = unwrap_dek(ring, dek.kek_id, dek.namespace, dek.dek_id, dek.wrapped)
    return open_value(key, sealed.namespace, sealed.name, sealed.version, sealed.sealed)


def new_data_key(ring: KekRing, namespace: str, now: datetime, actor: str) -> DataKeyCreated:
    dek_id = new_key()[:8].hex()
    return DataKeyCreated(namespace=namespace, dek_id=dek_id, kek_id=ring.current.kek_id,
                          wrapped=wrap_dek(ring.current, namespace, dek_id, new_key()), created_at=now, actor=actor)


def set_records(book: SecretBook, ring: KekRing, namespace: str, name: str, value: str, now: datetime,
                actor: str) -> list[DataKeyCreated | SecretSet]:
    """What setting a secret writes: its sealed value, after a new data key if the namespace has none."""
    found = book.data_key(namespace)
    dek = found or new_data_key(ring, namespace, now, actor)
    created = [] if found is not None else [dek]
    key = unwrap_dek(ring, dek.kek_id, namespace, dek.dek_id, dek.wrapped)
    version = book.next_version(namespace, name)
    sealed = SecretSet(namespace=namespace, name=name, version=version, dek_id=dek.dek_id,
                       sealed=seal_value(key, namespace, name, version, value), set_at=now, actor=actor)
    return [*created, sealed]


def shred_records(book: SecretBook, namespace: str, now: datetime, actor: str) -> list[DataKeyDeleted]:
    """Crypto-shredding: the deletion of every data key of the namespace."""
    return [DataKeyDeleted(namespace=namespace, dek_id=d.dek_id, deleted_at=now, actor=actor)
            for d in book.data_keys_of(namespace)]


def rewrap_records(book: SecretBook, ring: KekRing, now: datetime, actor: str) -> list[DataKeyCreated]:
    """Every live data key wrapped again by the ring's current KEK (those it wraps already are left)."""
    current = ring.current
    return [DataKeyCreated(namespace=d.namespace, dek_id=d.dek_id, kek_id=current.kek_id,
                           wrapped=wrap_dek(current, d.namespace, d.dek_id,
                                            unwrap_dek(ring, d.kek_id, d.namespace, d.dek_id, d.wrapped)),
                           created_at=now, actor=actor)
            for d in book.deks.values() if d.kek_id != current.kek_id]

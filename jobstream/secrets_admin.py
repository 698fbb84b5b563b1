"""Secrets at the edge: the key-encryption keys (a file or a variable), and the operator's commands
that reach the broker directly (set, list, delete, shred a namespace, rotate the KEK).

The API does the same for its callers (api/secrets.py); both write the compacted secrets topic,
which holds ciphertexts only.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from jobstream.config import Settings
from jobstream.core.secret_book import (
    SecretBook,
    dek_key,
    rewrap_records,
    secret_key,
    set_records,
    shred_records,
)
from jobstream.core.secrets_crypto import KekRing, format_keks, kek_of, new_key, parse_keks
from jobstream.credentials import write_private
from jobstream.infra.topics import Topics
from jobstream.keys_admin import operator_actor, publish_acknowledged, read_to_end
from jobstream.schemas import DataKeyCreated, DataKeyDeleted, Record, SecretDeleted, SecretRecord, SecretSet


class NoKek(RuntimeError):
    """Neither JOBSTREAM_SECRETS_KEK nor a KEK file: secrets can be neither sealed nor opened."""


def load_keks(settings: Settings) -> KekRing:
    """The KEKs of ``settings``: the variable's, else the file's; NoKek when there are none."""
    if settings.secrets_kek:
        return parse_keks(settings.secrets_kek)
    try:
        return parse_keks(settings.kek_path.read_text())
    except FileNotFoundError:
        raise NoKek(f"no key-encryption key: set JOBSTREAM_SECRETS_KEK or create {settings.kek_path} "
                    "(jobstream run does, on first start)") from None


def write_keks(path: Path, ring: KekRing) -> None:
    write_private(path, format_keks(ring))


def ensure_kek(settings: Settings) -> bool:
    """``jobstream run``'s first start: a KEK file of one new key unless a KEK is configured. Whether one was made."""
    if settings.secrets_kek or settings.kek_path.exists():
        return False
    write_keks(settings.kek_path, KekRing((kek_of(new_key()),)))
    return True


def read_book(settings: Settings) -> SecretBook:
    book = SecretBook()
    for record in read_to_end(settings, Topics(settings.topic_prefix).secrets):
        if isinstance(record, DataKeyCreated | DataKeyDeleted | SecretSet | SecretDeleted):
            book.apply(record)
    return book


def record_key(record: SecretRecord) -> str:
    """Its key on the compacted topic: a data key's deletion replaces it, as a value's deletion does."""
    if isinstance(record, DataKeyCreated | DataKeyDeleted):
        return dek_key(record.namespace, record.dek_id)
    return secret_key(record.namespace, record.name)


def publish_secrets(settings: Settings, records: list[SecretRecord]) -> None:
    keyed: list[tuple[str, Record]] = [(record_key(r), r) for r in records]
    publish_acknowledged(settings, Topics(settings.topic_prefix).secrets, keyed)


def set_secret(settings: Settings, namespace: str, name: str, value: str, now: datetime,
               actor: str | None = None) -> SecretSet:
    records = set_records(read_book(settings), load_keks(settings), namespace, name, value, now,
                          actor or operator_actor())
    publish_secrets(settings, list(records))
    sealed = records[-1]
    assert isinstance(sealed, SecretSet)
    return sealed


def delete_secret(settings: Settings, namespace: str, name: str, now: datetime, actor: str | None = None) -> bool:
    if (namespace, name) not in read_book(settings).values:
        return False
    publish_secrets(settings, [SecretDeleted(namespace=namespace, name=name, deleted_at=now,
                                             actor=actor or operator_actor())])
    return True


def shred_namespace(settings: Settings, namespace: str, now: datetime, actor: str | None = None) -> int:
    """Delete every data key of ``namespace``: its secrets, old events included, no longer open. How many."""
    records = shred_records(read_book(settings), namespace, now, actor or operator_actor())
    publish_secrets(settings, list(records))
    return len(records)


def rotate_kek(settings: Settings, now: datetime, actor: str | None = None) -> tuple[str, int]:
    """Rewrap every data key under a new KEK. With a KEK file: a new key is made, written first in
    the file, every data key rewrapped and acknowledged, then the file keeps the new key only. With
    JOBSTREAM_SECRETS_KEK: its first key is the new one (the operator put it there, the old ones
    after it), and every data key is rewrapped under it. Returns the current KEK id and how many
    data keys were rewrapped."""
    ring = load_keks(settings)
    if not settings.secrets_kek:
        ring = KekRing((kek_of(new_key()), *ring.keks))
        write_keks(settings.kek_path, ring)  # both, until every data key is wrapped by the new one
    records = rewrap_records(read_book(settings), ring, now, actor or operator_actor())
    publish_secrets(settings, list(records))
    if not settings.secrets_kek:
        write_keks(settings.kek_path, KekRing((ring.current,)))
    return ring.current.kek_id, len(records)

"""Envelope encryption of secrets, pure (core/secrets_crypto.py, core/secret_book.py): round trip,
associated data, KEK rotation and crypto-shredding."""

from __future__ import annotations

import base64
from dataclasses import replace

import pytest

from jobstream.core.secret_book import SecretBook, rewrap_records, set_records, shred_records
from jobstream.core.secrets_crypto import (
    KekRing,
    SecretUnreadable,
    format_keks,
    kek_of,
    new_key,
    open_value,
    parse_keks,
    seal_value,
)
from jobstream.schemas import DataKeyCreated, SecretSet
from tests.unit.builders import T0

VALUE = "hunter2-s3cr3t"


def ring() -> KekRing:
    return KekRing((kek_of(new_key()),))


def test_a_value_sealed_opens_only_with_its_key_and_place() -> None:
    dek = new_key()
    sealed = seal_value(dek, "acme", "db-password", 1, VALUE)
    assert VALUE.encode() not in sealed
    assert open_value(dek, "acme", "db-password", 1, sealed) == VALUE
    for namespace, name, version in [("other", "db-password", 1), ("acme", "api-token", 1), ("acme", "db-password", 2)]:
        with pytest.raises(SecretUnreadable):  # moved to another namespace, name or version: it does not open
            open_value(dek, namespace, name, version, sealed)
    with pytest.raises(SecretUnreadable):
        open_value(new_key(), "acme", "db-password", 1, sealed)
    tampered = sealed[:-1] + bytes([sealed[-1] ^ 1])
    with pytest.raises(SecretUnreadable):
        open_value(dek, "acme", "db-password", 1, tampered)


def test_two_seals_of_one_value_differ() -> None:
    dek = new_key()
    assert seal_value(dek, "a", "n", 1, VALUE) != seal_value(dek, "a", "n", 1, VALUE)  # a fresh nonce each time


def test_keks_parse_from_base64_current_first_and_print_back() -> None:
    keys = [new_key(), new_key()]
    parsed = parse_keks(", ".join(base64.b64encode(k).decode() for k in keys))
    assert [k.key for k in parsed.keks] == keys and parsed.current.key == keys[0]
    assert parse_keks(format_keks(parsed)) == parsed
    assert keys[0].hex() not in repr(parsed.current) and base64.b64encode(keys[0]).decode() not in repr(parsed)
    for bad in ["", "not base64!", base64.b64encode(b"short").decode()]:
        with pytest.raises(ValueError):
            parse_keks(bad)


def book_with(keks: KekRing, records: list[DataKeyCreated | SecretSet]) -> SecretBook:
    book = SecretBook()
    for record in records:
        book.apply(record)
    return book


def test_a_secret_set_is_sealed_by_a_data_key_created_once_per_namespace() -> None:
    keks = ring()
    book = book_with(keks, set_records(SecretBook(), keks, "acme", "db-password", VALUE, T0, "tests"))
    second = set_records(book, keks, "acme", "db-password", "new-value", T0, "tests")
    assert [type(r) for r in second] == [SecretSet]  # the namespace's data key is reused
    for record in second:
        book.apply(record)
    assert book.reveal(keks, "acme", "db-password") == "new-value"
    assert [(i.name, i.version) for i in book.listed("acme")] == [("db-password", 2)]
    assert book.listed("other") == []
    with pytest.raises(KeyError):
        book.reveal(keks, "other", "db-password")


def test_rotating_the_kek_rewraps_every_data_key_and_the_old_kek_can_go() -> None:
    old = ring()
    book = book_with(old, set_records(SecretBook(), old, "acme", "db-password", VALUE, T0, "tests"))
    new = KekRing((kek_of(new_key()), *old.keks))  # the new KEK first, the old still known
    rewrapped = rewrap_records(book, new, T0, "tests")
    assert [r.kek_id for r in rewrapped] == [new.current.kek_id]
    for record in rewrapped:
        book.apply(record)
    only_new = KekRing((new.current,))
    assert book.reveal(only_new, "acme", "db-password") == VALUE
    assert rewrap_records(book, only_new, T0, "tests") == []
    with pytest.raises(SecretUnreadable):  # the old KEK alone no longer opens it
        book.reveal(old, "acme", "db-password")


def test_shredding_a_namespaces_data_keys_makes_its_old_values_unreadable() -> None:
    keks = ring()
    records = [*set_records(SecretBook(), keks, "acme", "db-password", VALUE, T0, "tests"),
               *set_records(SecretBook(), keks, "other", "db-password", VALUE, T0, "tests")]
    book = book_with(keks, records)
    old_event = next(r for r in records if isinstance(r, SecretSet) and r.namespace == "acme")
    for record in shred_records(book, "acme", T0, "tests"):
        book.apply(record)
    with pytest.raises(SecretUnreadable):
        book.reveal(keks, "acme", "db-password")
    book.apply(old_event)  # the old event read again (a replay, a copy of the topic): still shut
    with pytest.raises(SecretUnreadable):
        book.reveal(keks, "acme", "db-password")
    late = [r for r in records if isinstance(r, DataKeyCreated) and r.namespace == "acme"]
    for record in late:  # a rewrap that raced the shredding, read after it: the key stays deleted
        book.apply(record)
    with pytest.raises(SecretUnreadable):
        book.reveal(keks, "acme", "db-password")
    assert book.reveal(keks, "other", "db-password") == VALUE  # another namespace's are untouched
    assert set_records(book, keks, "acme", "x", VALUE, T0, "tests")[0].dek_id != old_event.dek_id


def test_a_data_key_wrapped_for_another_namespace_does_not_unwrap() -> None:
    keks = ring()
    records = set_records(SecretBook(), keks, "acme", "db-password", VALUE, T0, "tests")
    dek = next(r for r in records if isinstance(r, DataKeyCreated))
    moved = replace(dek, namespace="other")
    sealed = replace(next(r for r in records if isinstance(r, SecretSet)), namespace="other")
    book = book_with(keks, [moved, sealed])
    with pytest.raises(SecretUnreadable):
        book.reveal(keks, "other", "db-password")

"""The engine's overlay: a transaction's puts are seen by the transaction at once, by the
committed store only after the commit, and never after an abort."""

from __future__ import annotations

import pytest

from jobstream.streams.engine.store import Overlay, Stores


def _stores() -> Stores[str]:
    stores: Stores[str] = Stores()
    stores.install(0, {"a": "committed-a", "b": "committed-b"})
    stores.install(1, {})
    return stores


def test_reads_see_the_transactions_own_puts_first() -> None:
    overlay = Overlay(_stores())
    overlay.put(0, "a", "staged-a")
    overlay.put(0, "b", None)
    assert overlay.get(0, "a") == "staged-a"
    assert overlay.get(0, "b") is None  # deleted within the transaction
    assert overlay.get(1, "a") is None  # another partition's table


def test_committed_state_moves_only_when_applied() -> None:
    stores = _stores()
    overlay = Overlay(stores)
    overlay.put(0, "a", "first")
    overlay.put(0, "a", "last")
    overlay.put(0, "b", None)
    overlay.put(1, "c", "new")
    assert stores.tables[0] == {"a": "committed-a", "b": "committed-b"}
    assert sorted(overlay.changes()) == [(0, "a", "last"), (0, "b", None), (1, "c", "new")]  # each key once
    overlay.apply()
    assert stores.tables == {0: {"a": "last"}, 1: {"c": "new"}}
    assert list(overlay.changes()) == []


def test_a_key_put_and_deleted_by_one_transaction_changes_nothing_on_the_changelog() -> None:
    stores = _stores()
    overlay = Overlay(stores)
    overlay.put(1, "new", "staged")
    overlay.put(1, "new", None)  # e.g. a ready execution assigned in the batch it arrived in
    overlay.put(1, "never", None)
    overlay.put(0, "a", "staged")
    overlay.put(0, "a", None)  # committed before: its deletion is a change
    assert list(overlay.changes()) == [(0, "a", None)]
    overlay.apply()
    assert stores.tables == {0: {"b": "committed-b"}, 1: {}}


def test_keys_of_a_transaction_of_unknown_outcome_get_their_tombstones_until_restored() -> None:
    # Given a transaction that put a key and whose commit's outcome is unknown (it may have committed)
    stores = _stores()
    unknown = Overlay(stores)
    unknown.put(1, "new", "staged")
    unknown.doubt()
    assert stores.tables[1] == {}

    # Then the next one that puts and deletes that key deletes it on the changelog too
    again = Overlay(stores)
    again.put(1, "new", "staged")
    again.put(1, "new", None)
    assert list(again.changes()) == [(1, "new", None)]

    # until the partition is restored from its changelog
    stores.install(1, {})
    after_restore = Overlay(stores)
    after_restore.put(1, "new", "staged")
    after_restore.put(1, "new", None)
    assert list(after_restore.changes()) == []


def test_an_aborted_transaction_leaves_nothing() -> None:
    stores = _stores()
    overlay = Overlay(stores)
    overlay.put(0, "a", "staged")
    overlay.drop()
    assert overlay.get(0, "a") == "committed-a"
    overlay.apply()
    assert stores.tables[0] == {"a": "committed-a", "b": "committed-b"}


def test_a_partition_not_owned_cannot_be_read() -> None:
    stores = _stores()
    stores.drop(1)
    with pytest.raises(KeyError):
        Overlay(stores).get(1, "a")

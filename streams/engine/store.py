"""Committed state per partition, and the overlay a transaction stages its changes in.

The overlay is applied to the stores only once the transaction committed; an aborted one is
dropped, so memory never holds state that the changelog does not."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, Protocol, TypeVar

V = TypeVar("V")


class Serde(Protocol[V]):
    """How store values travel on the changelog."""

    def encode(self, value: V) -> bytes: ...

    def decode(self, data: bytes) -> V: ...


class Stores(Generic[V]):
    """The committed state of the partitions this instance owns: key -> value, per partition."""

    def __init__(self) -> None:
        self.tables: dict[int, dict[str, V]] = {}
        # Keys a transaction of unknown outcome changed: the changelog may hold a value for them
        # that the table does not, until the partition is restored again.
        self.doubted: dict[int, set[str]] = {}

    def install(self, partition: int, table: dict[str, V]) -> None:
        self.tables[partition] = table
        self.doubted.pop(partition, None)

    def drop(self, partition: int) -> None:
        self.tables.pop(partition, None)
        self.doubted.pop(partition, None)

    def may_hold(self, partition: int, key: str) -> bool:
        """Whether the changelog may hold a value for the key: the table has it, or doubts it."""
        table = self.tables.get(partition)
        return table is None or key in table or key in self.doubted.get(partition, ())

    def owns(self, partition: int) -> bool:
        return partition in self.tables


_DELETED = object()


class Overlay(Generic[V]):
    """One transaction's puts; reads see them first, then the committed stores."""

    def __init__(self, stores: Stores[V]) -> None:
        self.stores = stores
        self.staged: dict[int, dict[str, object]] = {}

    def get(self, partition: int, key: str) -> V | None:
        staged = self.staged.get(partition)
        if staged is not None and key in staged:
            value = staged[key]
            return None if value is _DELETED else value  # type: ignore[return-value]
        table = self.stores.tables.get(partition)
        if table is None:
            raise KeyError(f"partition {partition} is not owned")
        return table.get(key)

    def put(self, partition: int, key: str, value: V | None) -> None:
        """Stage a value (None deletes the key)."""
        staged = self.staged.get(partition)
        if staged is None:
            staged = self.staged[partition] = {}
        staged[key] = _DELETED if value is None else value

    def changes(self) -> Iterator[tuple[int, str, V | None]]:
        """Each staged key once, with its last value (None: deleted). A key deleted that the
        changelog cannot hold (put and deleted by this transaction, as a ready execution the
        dispatcher assigns in the batch it arrived in) changed nothing: no tombstone for it. The
        table holds what the changelog holds (restored from it, changed only by commits) but for
        the keys of a transaction whose outcome was unknown (``doubt``). Read before ``apply``."""
        may_hold = self.stores.may_hold
        for partition, staged in self.staged.items():
            for key, value in staged.items():
                if value is not _DELETED:
                    yield partition, key, value  # type: ignore[misc]
                elif may_hold(partition, key):
                    yield partition, key, None

    def apply(self) -> None:
        """The transaction committed: its changes become the committed state."""
        for partition, staged in self.staged.items():
            table = self.stores.tables.get(partition)
            if table is None:
                continue  # cannot happen between commit and apply (no poll in between); be safe
            for key, value in staged.items():
                if value is _DELETED:
                    table.pop(key, None)
                else:
                    table[key] = value  # type: ignore[assignment]
        self.staged = {}

    def drop(self) -> None:
        self.staged = {}

    def doubt(self) -> None:
        """This transaction's outcome is unknown: it may have committed, its changes are dropped."""
        for partition, staged in self.staged.items():
            self.stores.doubted.setdefault(partition, set()).update(staged)
        self.staged = {}

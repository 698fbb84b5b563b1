"""One call in flight beside the caller, so a batch's Postgres round trips overlap the next batch's decoding."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Generic, TypeVar

T = TypeVar("T")


class InFlight(Generic[T]):
    """Runs at most one call at a time, on a thread of its own. ``settle`` waits for that call and
    returns its result (or raises its error), so calls run strictly one after the other, in order."""

    def __init__(self, name: str) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._future: Future[T] | None = None

    @property
    def busy(self) -> bool:
        return self._future is not None

    def start(self, call: Callable[[], T]) -> None:
        if self._future is not None:
            raise RuntimeError("a call is already in flight: settle it first")
        self._future = self._pool.submit(call)

    def settle(self) -> T | None:
        """The call's result once it is done (None if nothing was in flight); its error is raised here."""
        future, self._future = self._future, None
        return None if future is None else future.result()

    def close(self) -> None:
        self._pool.shutdown(wait=True)

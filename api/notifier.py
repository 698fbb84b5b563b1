"""Read-your-writes: one LISTEN connection per app wakes the requests waiting on a job.

The projector NOTIFYs ``<schema>_jobs`` with a job_id after each commit. A waiter subscribes
*before* its command is sent and checks the read model right after subscribing, then again on
every wake-up, so a notification can never be lost between the check and the wait. While the
connection is down the waiters fall back to re-checking every ``recheck_s``; on (re)connect every
waiter is woken, since notifications sent meanwhile are gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import psycopg
from psycopg import sql
from tenacity import AsyncRetrying, RetryCallState

from jobstream.outage import Gate
from jobstream.retrying import reconnect_backoff

log = logging.getLogger(__name__)
T = TypeVar("T")


class Subscription:
    """A waiter on one job: woken by notifications naming it."""

    def __init__(self, job_id: str) -> None:
        self.job_id = job_id
        self.woken = asyncio.Event()

    async def wait_until(self, check: Callable[[], Awaitable[T | None]], timeout_s: float,
                         recheck_s: float, give_up: Callable[[], bool] = lambda: False) -> T | None:
        """``check()``'s first non-None answer, or None once ``timeout_s`` has passed or ``give_up()``."""
        deadline = time.monotonic() + timeout_s
        while True:
            self.woken.clear()  # before checking: a wake-up during the check is kept
            result = await check()
            if result is not None:
                return result
            remaining = deadline - time.monotonic()
            if remaining <= 0 or give_up():
                return None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.woken.wait(), min(remaining, recheck_s))


class Changes:
    """A watcher of every job (the dashboard's live views): the ids changed since it last looked.

    ``everything`` stands for ids it cannot know (a reconnect lost notifications, or too many
    piled up), so a view redraws as a whole."""

    MAX_IDS = 1000

    def __init__(self) -> None:
        self.job_ids: set[str] = set()
        self.everything = False
        self.woken = asyncio.Event()

    def add(self, job_id: str | None) -> None:
        if job_id is None or len(self.job_ids) >= self.MAX_IDS:
            self.everything = True
        else:
            self.job_ids.add(job_id)
        self.woken.set()

    async def next(self, timeout_s: float) -> tuple[set[str], bool] | None:
        """The ids changed (and whether that is everything) once something changed, or None after
        ``timeout_s`` with no change."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.woken.wait(), timeout_s)
        if not self.woken.is_set():
            return None
        changed, everything = self.job_ids, self.everything
        self.job_ids, self.everything = set(), False
        self.woken.clear()
        return changed, everything


class JobNotifier:
    def __init__(self, database_url: str, channel: str, gate: Gate, *, heartbeat_s: float = 30.0,
                 max_backoff_s: float = 5.0) -> None:
        self.database_url, self.channel, self.gate = database_url, channel, gate
        self.heartbeat_s, self.max_backoff_s = heartbeat_s, max_backoff_s
        self._waiters: dict[str, set[Subscription]] = {}
        self._watchers: set[Changes] = set()
        self._listening = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def listening(self) -> bool:
        return self._listening.is_set()

    async def start(self, wait_s: float = 5.0) -> None:
        """Start listening; waits up to ``wait_s`` for the first LISTEN, then goes on regardless."""
        self._task = asyncio.create_task(self._run(), name="jobstream-api-listener")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._listening.wait(), wait_s)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    @contextlib.asynccontextmanager
    async def subscribe(self, job_id: str) -> AsyncIterator[Subscription]:
        subscription = Subscription(job_id)
        self._waiters.setdefault(job_id, set()).add(subscription)
        try:
            yield subscription
        finally:
            waiters = self._waiters.get(job_id)
            if waiters is not None:
                waiters.discard(subscription)
                if not waiters:
                    del self._waiters[job_id]

    @contextlib.asynccontextmanager
    async def watch(self) -> AsyncIterator[Changes]:
        """Every job's changes, while the context lasts."""
        changes = Changes()
        self._watchers.add(changes)
        try:
            yield changes
        finally:
            self._watchers.discard(changes)

    def dispatch(self, job_id: str) -> None:
        for subscription in self._waiters.get(job_id, ()):
            subscription.woken.set()
        for changes in self._watchers:
            changes.add(job_id)

    def wake_all(self) -> None:
        for waiters in self._waiters.values():
            for subscription in waiters:
                subscription.woken.set()
        for changes in self._watchers:
            changes.add(None)

    async def _run(self) -> None:
        # Connecting is retried with backoff; a connection that worked and was lost starts it afresh.
        reconnecting = AsyncRetrying(wait=reconnect_backoff(self.max_backoff_s), before_sleep=self._failed)
        while True:
            await reconnecting(self._listen)

    async def _listen(self) -> None:
        """Listen until the connection is lost (then return); raise if it cannot be set up."""
        async with await psycopg.AsyncConnection.connect(self.database_url, autocommit=True) as conn:
            await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.channel)))
            self._listening.set()
            self.gate.mark_up()
            self.wake_all()
            try:
                await self._dispatch_notifications(conn)
            except psycopg.Error as error:
                self.gate.mark_down(f"LISTEN {self.channel} lost: {error}")
            finally:
                self._listening.clear()

    def _failed(self, attempt: RetryCallState) -> None:
        """A failed (re)connection is part of the read model's outage, logged by its gate."""
        error = attempt.outcome.exception() if attempt.outcome is not None else None
        self.gate.mark_down(f"LISTEN {self.channel}: {error}")

    async def _dispatch_notifications(self, conn: psycopg.AsyncConnection[Any]) -> None:
        while True:
            async for notify in conn.notifies(timeout=self.heartbeat_s):
                self.dispatch(notify.payload)
            await conn.execute("SELECT 1")  # a dead connection fails here, not silently

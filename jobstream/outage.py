"""A dependency's outage, logged as a change of state rather than as a line per failed attempt.

One line when it starts, a reminder at most every ``remind_every_s`` while it lasts (with how many
failures it absorbed), and one line when it ends, saying how long it lasted. ``Gate`` adds what a
caller needs to act on it: up or down, marked from any thread, and a probe at most every second
while down, so that requests fail at once instead of each waiting for its own timeout.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

REMIND_EVERY_S = 30.0


@dataclass
class Outage:
    """The log of one dependency's outages; the caller passes the time (monotonic seconds)."""

    what: str  # "the broker", "the read model": the subject of each line
    log: logging.Logger
    remind_every_s: float = REMIND_EVERY_S
    since: float | None = None
    failures: int = 0
    _reminded_at: float = 0.0

    @property
    def ongoing(self) -> bool:
        return self.since is not None

    def failed(self, reason: str, now: float) -> bool:
        """Count a failure; True when it starts an outage."""
        self.failures += 1
        if self.since is None:
            self.since = self._reminded_at = now
            self.log.warning("%s does not answer: %s", self.what, reason)
            return True
        if now - self._reminded_at >= self.remind_every_s:
            self._reminded_at = now
            self.log.warning("%s still does not answer after %.0f s (%d failures): %s",
                             self.what, now - self.since, self.failures, reason)
        return False

    def recovered(self, now: float) -> bool:
        """True when this ends an outage."""
        if self.since is None:
            return False
        self.log.warning("%s answers again, after %.1f s (%d failures)", self.what, now - self.since, self.failures)
        self.since, self.failures = None, 0
        return True


@dataclass
class Gate:
    """Whether a dependency answers, as the last attempt found; safe to mark from any thread."""

    outage: Outage
    probe_every_s: float = 1.0
    clock: Callable[[], float] = time.monotonic
    on_change: Callable[[bool], None] | None = None  # called with ``down`` when it changes
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _probed_at: float = 0.0

    @property
    def down(self) -> bool:
        return self.outage.ongoing

    def mark_down(self, reason: str) -> None:
        with self._lock:
            now = self.clock()
            changed = self.outage.failed(reason, now)
            if changed:
                self._probed_at = now  # the failure was the first probe
        if changed and self.on_change is not None:
            self.on_change(True)

    def mark_up(self) -> None:
        if not self.outage.ongoing:  # the common case, without the lock
            return
        with self._lock:
            changed = self.outage.recovered(self.clock())
        if changed and self.on_change is not None:
            self.on_change(False)

    def may_try(self) -> bool:
        """Up, or down and due for a probe (at most one every ``probe_every_s``)."""
        if not self.outage.ongoing:
            return True
        with self._lock:
            now = self.clock()
            if now - self._probed_at < self.probe_every_s:
                return False
            self._probed_at = now
            return True

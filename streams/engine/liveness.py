"""The last line of defence against a stall: a process that has work it does not do exits, and
the supervisor starts it again."""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
import traceback

log = logging.getLogger(__name__)
STALLED_EXIT_CODE = 3


class Liveness:
    """Two checks. The loop calls ``check(lagging)`` each turn: lag on an assigned partition with
    nothing consumed for ``limit_s`` is a stall. A thread checks that the loop turns at all (a
    call that never returns is a stall too) and ends the process if it does not."""

    def __init__(self, limit_s: float) -> None:
        self.limit_s = limit_s
        now = time.monotonic()
        self.turned_at = now
        self.consumed_at = now
        self._thread = threading.Thread(target=self._watch, name="liveness", daemon=True)
        self._loop_thread = threading.get_ident()  # the thread that turns the loop: its stack says where it hangs
        self._stopped = threading.Event()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """The loop has ended: the watch ends too."""
        self._stopped.set()

    def stopped(self) -> bool:
        """The watch has ended (or never began)."""
        return not self._thread.is_alive()

    def turned(self, consumed: bool) -> None:
        now = time.monotonic()
        self.turned_at = now
        if consumed:
            self.consumed_at = now

    def reset(self) -> None:
        """Lag is expected right after an assignment: start counting from now."""
        self.turned(consumed=True)

    def stalled(self, lagging: bool) -> bool:
        return lagging and time.monotonic() - self.consumed_at > self.limit_s

    def _watch(self) -> None:
        while not self._stopped.wait(min(5.0, self.limit_s / 4)):  # the watchdog's own period
            silent = time.monotonic() - self.turned_at
            if silent > self.limit_s:
                frame = sys._current_frames().get(self._loop_thread)
                where = "".join(traceback.format_stack(frame)[-6:]) if frame is not None else "(unknown)\n"
                log.critical("liveness: the processing loop has not turned for %.0fs; exiting. It waits in:\n%s",
                             silent, where.rstrip())
                logging.shutdown()
                os._exit(STALLED_EXIT_CODE)

"""The edges' reconnect backoff, on tenacity: 0.1 s after the first failure, doubling up to a cap,
and each failure logged once with the wait that follows it."""

from __future__ import annotations

import logging
from collections.abc import Callable

from tenacity import RetryCallState, wait_exponential

FIRST_WAIT_S = 0.1


def reconnect_backoff(max_wait_s: float) -> wait_exponential:
    """0.1 s, 0.2 s, 0.4 s... never more than ``max_wait_s``."""
    return wait_exponential(multiplier=FIRST_WAIT_S, max=max_wait_s)


def log_failure(logger: logging.Logger, level: int, what: str) -> Callable[[RetryCallState], None]:
    """A ``before_sleep`` hook: one line saying what failed, why, and how long until the next try."""
    def before_sleep(state: RetryCallState) -> None:
        wait_s = state.next_action.sleep if state.next_action else 0.0
        error = state.outcome.exception() if state.outcome else None
        logger.log(level, "%s failed, retrying in %.1fs: %s", what, wait_s, error)
    return before_sleep

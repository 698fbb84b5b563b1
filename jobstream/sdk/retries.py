"""Retrying a call the API could not take now (429, 503) or that never reached it, with backoff.

Every call that changes something carries an idempotency key made once per call, so sending it
again after a lost answer cannot do it twice. ``Retry-After`` is honoured when the API sends one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from tenacity import RetryCallState, retry_if_exception, stop_after_attempt, wait_exponential_jitter

RETRIED_STATUSES = frozenset({429, 503})


class Busy(Exception):
    """A 429 or 503: worth asking again after a while (``retry_after_s`` if the API said)."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"{response.status_code} from {response.request.url}")
        self.response = response
        self.retry_after_s = retry_after(response.headers.get("retry-after"))


def retry_after(value: str | None) -> float | None:
    """Seconds of a ``Retry-After`` header given in seconds (the HTTP-date form is ignored)."""
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


def retryable(error: BaseException) -> bool:
    return isinstance(error, Busy | httpx.TransportError)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a call is sent again: capped exponential backoff with jitter."""

    attempts: int = 5
    initial_s: float = 0.2
    max_s: float = 10.0

    def wait_s(self, state: RetryCallState) -> float:
        """The backoff, or longer if the API asked for it."""
        backoff = wait_exponential_jitter(multiplier=self.initial_s, max=self.max_s, jitter=self.initial_s)(state)
        error = state.outcome.exception() if state.outcome is not None else None
        asked = error.retry_after_s if isinstance(error, Busy) else None
        return min(self.max_s, max(backoff, asked or 0.0))

    def tenacity_kwargs(self) -> dict[str, Any]:
        """Arguments of tenacity's ``Retrying`` and ``AsyncRetrying``."""
        return {"retry": retry_if_exception(retryable), "stop": stop_after_attempt(self.attempts),
                "wait": self.wait_s, "reraise": True}

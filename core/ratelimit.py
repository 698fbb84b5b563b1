"""Submission rate limits, pure: a token bucket per key and one per namespace, time passed in.

A request takes one token from its caller's bucket and one from its namespace's; when either is
empty it is refused with the seconds until a token is back (the ``Retry-After`` of a 429), and
takes nothing from either.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Rate:
    """``per_s`` tokens a second, at most ``burst`` saved up."""

    per_s: float
    burst: float

    def __post_init__(self) -> None:
        if self.per_s <= 0 or self.burst < 1:
            raise ValueError(f"a rate needs per_s > 0 and burst >= 1, got {self.per_s}/s, burst {self.burst}")


@dataclass(slots=True)
class Bucket:
    tokens: float
    at: float  # monotonic seconds of the last refill

    def refilled(self, rate: Rate, now: float) -> float:
        return min(rate.burst, self.tokens + max(0.0, now - self.at) * rate.per_s)


def wait_for_token(bucket: Bucket, rate: Rate, now: float) -> float:
    """Seconds until ``bucket`` holds a token at ``now`` (0: it does)."""
    tokens = bucket.refilled(rate, now)
    return 0.0 if tokens >= 1 else (1 - tokens) / rate.per_s


@dataclass
class RateLimits:
    """Buckets per key (or JWT subject) and per namespace; the namespace's rate may be set apart."""

    per_key: Rate
    per_namespace: Rate
    namespace_rates: dict[str, Rate] = field(default_factory=dict)
    _keys: dict[str, Bucket] = field(default_factory=dict)
    _namespaces: dict[str, Bucket] = field(default_factory=dict)

    def set_namespace_rate(self, namespace: str, per_s: float) -> None:
        """A namespace's own rate (``jobstream quotas set``), with a burst of twice that."""
        if per_s > 0:
            self.namespace_rates[namespace] = Rate(per_s, max(1.0, 2 * per_s))

    def admit(self, actor: str, namespace: str, now: float) -> float:
        """0 when the submission may go (a token taken from both buckets), else the seconds to wait."""
        rates = ((self._keys, actor, self.per_key),
                 (self._namespaces, namespace, self.namespace_rates.get(namespace, self.per_namespace)))
        buckets = [(table.setdefault(name, Bucket(rate.burst, now)), rate) for table, name, rate in rates]
        wait = max(wait_for_token(bucket, rate, now) for bucket, rate in buckets)
        if wait > 0:
            return wait
        for bucket, rate in buckets:
            bucket.tokens, bucket.at = bucket.refilled(rate, now) - 1, now
        return 0.0

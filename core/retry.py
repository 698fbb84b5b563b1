"""Retry maths: pure functions of the policy, the try number and a random draw passed in."""

from __future__ import annotations

import hashlib

from jobstream.schemas import Jitter, Outcome, RetryPolicy


def backoff_s(policy: RetryPolicy, failed_tries: int, draw: float) -> float:
    """Delay before the next try after ``failed_tries`` failures; ``draw`` is uniform in [0, 1).

    Exponential: initial * multiplier**(failed_tries - 1), capped at max_backoff_s. With full
    jitter the delay is draw * that cap (AWS's "full jitter"), never more than max_backoff_s.
    """
    exponent = max(failed_tries - 1, 0)
    try:
        grown = policy.initial_backoff_s * policy.multiplier**exponent
    except OverflowError:  # a huge multiplier or try count: the cap applies anyway
        grown = policy.max_backoff_s
    ceiling = min(policy.max_backoff_s, grown)
    return ceiling * draw if policy.jitter == Jitter.FULL else ceiling


def deterministic_draw(*parts: object) -> float:
    """A uniform draw in [0, 1) from its inputs, so that a replayed decision jitters the same."""
    digest = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def should_retry(policy: RetryPolicy | None, tries: int, outcome: Outcome, exit_code: int | None) -> bool:
    """True when a failed try may run again under ``policy``."""
    if policy is None or tries >= policy.max_attempts:
        return False
    if outcome == Outcome.TIMED_OUT:
        return policy.retry_on_timeout
    if outcome == Outcome.LOST:
        return True
    if outcome != Outcome.FAILED:
        return False
    return not policy.retry_on_exit_codes or exit_code in policy.retry_on_exit_codes

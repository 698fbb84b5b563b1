"""Token buckets per key and per namespace (core/ratelimit.py), with time passed in."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jobstream.core.ratelimit import Rate, RateLimits


def test_a_key_gets_its_burst_then_one_token_per_interval_with_the_wait_named() -> None:
    limits = RateLimits(per_key=Rate(2, 3), per_namespace=Rate(100, 100))
    assert [limits.admit("key:a", "acme", 0.0) for _ in range(3)] == [0, 0, 0]
    assert limits.admit("key:a", "acme", 0.0) == pytest.approx(0.5)  # Retry-After: half a second
    assert limits.admit("key:a", "acme", 0.5) == 0
    assert limits.admit("key:b", "acme", 0.5) == 0  # another key has its own bucket


def test_a_namespace_caps_all_its_keys_together_and_may_have_its_own_rate() -> None:
    limits = RateLimits(per_key=Rate(100, 100), per_namespace=Rate(1, 2), namespace_rates={"big": Rate(100, 100)})
    assert limits.admit("key:a", "acme", 0) == 0 and limits.admit("key:b", "acme", 0) == 0
    assert limits.admit("key:c", "acme", 0) == pytest.approx(1.0)
    assert all(limits.admit(f"key:{i}", "big", 0) == 0 for i in range(50))


def test_a_refused_request_takes_no_token_from_either_bucket() -> None:
    limits = RateLimits(per_key=Rate(1, 1), per_namespace=Rate(1, 1))
    assert limits.admit("key:a", "acme", 0) == 0
    assert limits.admit("key:b", "acme", 0) > 0  # refused by the namespace: key:b keeps its token
    assert limits.admit("key:b", "other", 0) == 0


def test_a_rate_must_make_sense() -> None:
    with pytest.raises(ValueError):
        Rate(0, 1)
    with pytest.raises(ValueError):
        Rate(1, 0.5)


@given(st.lists(st.floats(min_value=0, max_value=0.5), min_size=1, max_size=200))
def test_never_more_than_burst_plus_rate_times_elapsed(gaps: list[float]) -> None:
    limits, now, admitted = RateLimits(per_key=Rate(5, 10), per_namespace=Rate(1000, 1000)), 0.0, 0
    for gap in gaps:
        now += gap
        admitted += limits.admit("key:a", "ns", now) == 0
    assert admitted <= 10 + 5 * now + 1e-9


def test_a_namespace_rate_set_later_applies_to_its_next_submissions() -> None:
    limits = RateLimits(per_key=Rate(100, 100), per_namespace=Rate(100, 100))
    limits.set_namespace_rate("acme", 0.5)
    assert limits.admit("key:a", "acme", 0) == 0 and limits.admit("key:b", "acme", 0) > 0
    assert limits.admit("key:b", "other", 0) == 0

"""Retry maths: delays within the jitter bounds and never beyond max_backoff_s."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from jobstream.core.retry import backoff_s, deterministic_draw, should_retry
from jobstream.schemas import Jitter, Outcome, RetryPolicy


@given(st.integers(1, 60), st.floats(0, 1, exclude_max=True), st.floats(0.1, 10), st.floats(1, 4),
       st.floats(0.1, 600), st.sampled_from(list(Jitter)))
def test_backoff_is_bounded(tries: int, draw: float, initial: float, multiplier: float, cap: float,
                            jitter: Jitter) -> None:
    policy = RetryPolicy(initial_backoff_s=initial, multiplier=multiplier, max_backoff_s=max(cap, initial),
                         jitter=jitter)
    delay = backoff_s(policy, tries, draw)
    ceiling = min(policy.max_backoff_s, initial * multiplier ** (tries - 1))
    assert 0 <= delay <= policy.max_backoff_s
    assert delay <= ceiling + 1e-9
    if jitter == Jitter.NONE:
        assert delay == ceiling


def test_exponential_without_jitter() -> None:
    policy = RetryPolicy(initial_backoff_s=1, multiplier=2, max_backoff_s=5, jitter=Jitter.NONE)
    assert [backoff_s(policy, n, 0.5) for n in (1, 2, 3, 4, 5)] == [1, 2, 4, 5, 5]


def test_draw_is_deterministic_and_uniform_enough() -> None:
    draws = [deterministic_draw("job", n) for n in range(2000)]
    assert draws[:5] == [deterministic_draw("job", n) for n in range(5)]
    assert all(0 <= d < 1 for d in draws)
    assert 0.45 < sum(draws) / len(draws) < 0.55


def test_which_outcomes_retry() -> None:
    policy = RetryPolicy(max_attempts=3, retry_on_exit_codes=[2], retry_on_timeout=False)
    assert should_retry(policy, 1, Outcome.FAILED, 2)
    assert not should_retry(policy, 1, Outcome.FAILED, 1)
    assert not should_retry(policy, 1, Outcome.TIMED_OUT, None)
    assert not should_retry(policy, 3, Outcome.FAILED, 2)  # the last attempt
    assert not should_retry(None, 1, Outcome.FAILED, 1)


def test_a_huge_policy_cannot_overflow_the_maths() -> None:
    policy = RetryPolicy(initial_backoff_s=1, multiplier=1e10, max_backoff_s=300, jitter=Jitter.NONE)
    assert backoff_s(policy, 100, 0.5) == 300


def test_max_backoff_is_bounded_by_validation() -> None:
    from jobstream.core.validation import validate_spec
    from tests.unit.builders import spec

    problems = validate_spec(spec(retry=RetryPolicy(max_backoff_s=3e11)))
    assert [field for field, _ in problems] == ["retry.max_backoff_s"]

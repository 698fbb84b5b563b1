"""When the chaos bench's event reader replaces its consumer: a partition short of its end that
has said nothing for a while (librdkafka can stop fetching an assigned partition after a broker
restart), never one at its end however quiet."""

from __future__ import annotations

from jobstream.bench_chaos import stalled


def test_a_partition_short_of_its_end_and_silent_too_long_is_stalled() -> None:
    assert stalled({0: True, 1: False}, {0: 0.0, 1: 0.0}, now=10.5, after_s=10.0)


def test_a_quiet_partition_at_its_end_or_one_heard_lately_is_not() -> None:
    assert not stalled({0: True, 1: True}, {0: 0.0, 1: 0.0}, now=100.0, after_s=10.0)
    assert not stalled({0: True, 1: False}, {0: 0.0, 1: 95.0}, now=100.0, after_s=10.0)

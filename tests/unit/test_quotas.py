"""Namespace quotas: a set merges into the last record, the caps fold of QuotaSet records."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from jobstream.core.quotas import NO_RATE, fold_cap, merged_quota
from jobstream.schemas import QuotaSet

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def quota(rate: float = 10.0, cap: int | None = None, namespace: str = "acme") -> QuotaSet:
    return QuotaSet(namespace=namespace, submit_rate=rate, set_at=NOW, actor="cli:a", max_in_flight=cap)


def test_setting_a_cap_keeps_the_rate_set_before() -> None:
    merged = merged_quota(quota(rate=10.0), "acme", NOW, "cli:b", max_in_flight=50)
    assert (merged.submit_rate, merged.max_in_flight, merged.actor) == (10.0, 50, "cli:b")


def test_setting_a_rate_keeps_the_cap_set_before() -> None:
    merged = merged_quota(quota(rate=10.0, cap=50), "acme", NOW, "cli:b", submit_rate=3.0)
    assert (merged.submit_rate, merged.max_in_flight) == (3.0, 50)


def test_a_first_cap_leaves_the_default_rate() -> None:
    merged = merged_quota(None, "acme", NOW, "cli:b", max_in_flight=2)
    assert (merged.submit_rate, merged.max_in_flight) == (NO_RATE, 2)


def test_a_cap_of_zero_removes_the_cap() -> None:
    assert merged_quota(quota(cap=50), "acme", NOW, "cli:b", max_in_flight=0).max_in_flight is None


def test_a_negative_cap_is_refused() -> None:
    with pytest.raises(ValueError, match="max_in_flight"):
        merged_quota(None, "acme", NOW, "cli:b", max_in_flight=-1)


def test_the_caps_fold_keeps_the_last_record_of_each_namespace() -> None:
    caps: dict[str, int] = {}
    for record in (quota(cap=5), quota(cap=2, namespace="beta"), quota(cap=3), quota(cap=None, namespace="beta")):
        fold_cap(caps, record)
    assert caps == {"acme": 3}


def test_a_quota_without_a_cap_goes_over_the_wire_as_no_cap() -> None:
    from jobstream.schemas import make_codec

    codec = make_codec(None)
    decoded = codec.decode(codec.encode(quota(cap=None), "jobstream.keys"), topic="jobstream.keys", partition=0,
                           offset=0)
    assert isinstance(decoded, QuotaSet) and decoded.max_in_flight is None


def test_quotas_set_needs_a_quota_to_set() -> None:
    from typer.testing import CliRunner

    from jobstream.keys_cli import quotas_app

    result = CliRunner().invoke(quotas_app, ["set", "--namespace", "acme"])
    assert result.exit_code == 2 and "--max-in-flight" in result.output


def test_quotas_set_says_what_now_holds() -> None:
    from jobstream.keys_cli import describe

    assert describe(10.0, 50) == "10 submissions a second, at most 50 in flight"
    assert describe(NO_RATE, None) == "the default submission rate, no in-flight cap"

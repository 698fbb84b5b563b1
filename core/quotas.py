"""Namespace quotas, pure: a ``jobstream quotas set`` merged into the namespace's last record, and
the in-flight caps as a fold of the keys topic's QuotaSet records.

A QuotaSet holds all of a namespace's quotas and the last one holds, whole: setting one quota
carries the others forward from the record before, so ``--max-in-flight`` never resets a rate.
"""

from __future__ import annotations

from datetime import datetime

from jobstream.schemas import QuotaSet

NO_RATE = 0.0  # a submit_rate of 0: the API's default namespace rate applies


def merged_quota(current: QuotaSet | None, namespace: str, now: datetime, actor: str, *,
                 submit_rate: float | None = None, max_in_flight: int | None = None) -> QuotaSet:
    """The record that sets what is given and keeps the rest of ``current``; a ``max_in_flight``
    of 0 removes the cap."""
    if max_in_flight is not None and max_in_flight < 0:
        raise ValueError(f"max_in_flight must be 0 (no cap) or more, got {max_in_flight}")
    rate = submit_rate if submit_rate is not None else current.submit_rate if current else NO_RATE
    cap = current.max_in_flight if current and max_in_flight is None else max_in_flight or None
    return QuotaSet(namespace=namespace, submit_rate=rate, set_at=now, actor=actor, max_in_flight=cap)


def fold_cap(caps: dict[str, int], quota: QuotaSet) -> None:
    """Apply one QuotaSet to the caps (namespace -> max in flight; absent: no cap), in place."""
    if quota.max_in_flight is None:
        caps.pop(quota.namespace, None)
    else:
        caps[quota.namespace] = quota.max_in_flight


def cap_reason(namespace: str, cap: int, in_flight: int) -> str | None:
    """Why a queued job of ``namespace`` waits when the namespace has ``in_flight`` executions
    assigned or running against its ``cap``; None when it has room."""
    if in_flight < cap:
        return None
    return f"namespace {namespace} is at its in-flight cap: {in_flight} of {cap} executions assigned or running"

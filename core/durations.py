"""Human and ISO-8601 durations for interval schedules ("5m", "every 2 hours", "PT1H30M")."""

from __future__ import annotations

import math
import re

_UNITS = {
    "ms": 0.001, "s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1,
    "m": 60, "min": 60, "mins": 60, "minute": 60, "minutes": 60,
    "h": 3600, "hr": 3600, "hrs": 3600, "hour": 3600, "hours": 3600,
    "d": 86400, "day": 86400, "days": 86400, "w": 604800, "week": 604800, "weeks": 604800,
}
_NUMBER = r"\d+(?:\.\d+)?"
_PART = re.compile(rf"({_NUMBER})\s*([a-z]+)")
_COMPACT = re.compile(rf"(?:{_NUMBER}\s*[a-z]+\s*)+")
_ISO = re.compile(
    rf"P(?:(?P<w>{_NUMBER})W)?(?:(?P<d>{_NUMBER})D)?"
    rf"(?:T(?:(?P<h>{_NUMBER})H)?(?:(?P<m>{_NUMBER})M)?(?:(?P<s>{_NUMBER})S)?)?"
)
_ISO_SECONDS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}
_EXAMPLES = "'30s', '5m', '1h30m', '1d', 'every 5 minutes', '90 seconds' or ISO-8601 like 'PT5M', 'P1D'"


def parse_every(text: str) -> float:
    """Seconds in an interval written by a person or as an ISO-8601 duration; ValueError if unclear.

    Months and years are refused: they have no fixed length (use cron for "monthly").
    """
    raw = text.strip()
    if raw[:1] in ("P", "p"):
        seconds = _parse_iso(raw.upper(), text)
    else:
        seconds = _parse_words(raw.lower(), text)
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"interval {text!r} must be longer than zero")
    return seconds


def _parse_iso(raw: str, text: str) -> float:
    match = _ISO.fullmatch(raw)
    if match and any(match.groupdict().values()) and not raw.endswith("T"):
        return sum(float(value) * _ISO_SECONDS[unit] for unit, value in match.groupdict().items() if value)
    if re.match(r"P[^T]*\d[YM]", raw):
        raise ValueError(f"interval {text!r}: months and years have no fixed length; use cron")
    raise ValueError(f"interval {text!r} is not an ISO-8601 duration like 'PT5M' or 'P1DT12H'")


def _parse_words(raw: str, text: str) -> float:
    phrase = raw.removeprefix("every").strip()
    if phrase != raw and phrase in _UNITS:  # "every minute", "every hour"
        return float(_UNITS[phrase])
    if not _COMPACT.fullmatch(phrase):
        raise ValueError(f"interval {text!r} is not understood: use {_EXAMPLES}")
    total = 0.0
    for number, unit in _PART.findall(phrase):
        if unit not in _UNITS:
            raise ValueError(f"interval {text!r}: unknown unit {unit!r}; use {_EXAMPLES}")
        total += float(number) * _UNITS[unit]
    return total

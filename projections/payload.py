"""Records as JSON-safe values, for the jsonb columns (job_events.payload, jobs.spec).

Built on the Avro datum (``to_avro``), so the JSON mirrors the contract field for field:
datetimes become ISO-8601 strings, enums their symbol, nested records dicts, NaN and infinities
null. A record that sits in a union of several record types (today only ``JobSpec.task``) says
which one it is under ``kind`` (its short name, e.g. "ShellTask"); other unions are left plain.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any, get_args

from jobstream.schemas import Record, Task, to_avro

KIND = "kind"
_TAGGED = {cls.avro_name: cls.short_name() for cls in get_args(Task)}
_PLAIN = frozenset({str, int, bool, type(None)})


def record_json(record: Record, exclude: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The record's fields (minus ``exclude``) as a JSON-safe dict."""
    return {name: json_safe(value) for name, value in to_avro(record).items() if name not in exclude}


def finite(value: float | None) -> float | None:
    """JSON (and so jsonb) has no NaN or infinity: they are stored as null."""
    return value if value is None or math.isfinite(value) else None


def json_safe(value: Any) -> Any:
    """A fastavro datum made JSON-safe. Cheap on the common case: plain scalars return at once."""
    kind = type(value)
    if kind in _PLAIN:
        return value
    if kind is float:
        return finite(value)
    if kind is tuple:  # (full name, datum): a record chosen from a union
        name, datum = value
        out = json_safe(datum)
        tag = _TAGGED.get(name)
        return {KIND: tag, **out} if tag else out
    if kind is dict:
        return {key: json_safe(item) for key, item in value.items()}
    if kind is list:
        return [json_safe(item) for item in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str):  # StrEnum: store the symbol, not the enum object
        return str(value)
    raise TypeError(f"no JSON form for {kind.__name__}")

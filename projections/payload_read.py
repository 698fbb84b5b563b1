"""The inverse of ``payload.record_json``: a job event back from its ``job_events`` row (the
envelope from the row's columns, the rest from its JSON payload), so that a job's history in the
read model can be folded by ``evolve`` (the dashboard's time travel)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from jobstream.projections.payload import KIND
from jobstream.schemas import CATALOG, JobEvent, from_avro
from jobstream.schemas.convert import PRIMITIVES, TIMESTAMPS
from jobstream.schemas.events import RECORDS

ENVELOPE_COLUMNS = ("event_id", "job_id", "seq", "type", "occurred_at", "actor", "causation_id", "correlation_id")
EVENT_CLASSES: dict[str, type[JobEvent]] = {cls.short_name(): cls for cls in RECORDS}


def event_from_row(row: dict[str, Any]) -> JobEvent:
    """The event a ``job_events`` row holds; ValueError if its type or payload is not one we know."""
    cls = EVENT_CLASSES.get(str(row["type"]))
    if cls is None:
        raise ValueError(f"unknown event type {row['type']!r}")
    envelope = {name: row.get(name) for name in ENVELOPE_COLUMNS}
    try:
        datum = _datum(CATALOG.named_type(cls.avro_name), {**row["payload"], "envelope": None})
        return from_avro(cls, {**datum, "envelope": envelope})
    except (KeyError, TypeError, ValueError, StopIteration) as error:
        raise ValueError(f"not a {cls.short_name()} payload: {error!r}") from error


def _resolve(schema: Any) -> Any:
    return CATALOG.named_type(schema) if isinstance(schema, str) and schema not in PRIMITIVES else schema


def _datum(schema: Any, value: Any) -> Any:
    """A fastavro-style datum (what ``from_avro`` reads) of a JSON value of ``schema``."""
    schema = _resolve(schema)
    if value is None:
        return None
    if isinstance(schema, list):
        return _union(schema, value)
    if not isinstance(schema, dict):
        return value
    kind = schema["type"]
    if kind == "record":
        return {f["name"]: _datum(f["type"], value[f["name"]]) for f in schema["fields"] if f["name"] in value}
    if kind == "array":
        return [_datum(schema["items"], item) for item in value]
    if kind == "map":
        return {key: _datum(schema["values"], item) for key, item in value.items()}
    if schema.get("logicalType") in TIMESTAMPS:
        return datetime.fromisoformat(value)
    return value


def _union(branches: list[Any], value: Any) -> Any:
    resolved = [_resolve(b) for b in branches if b != "null"]
    if isinstance(value, dict) and KIND in value:  # a record of a multi-record union, tagged by short name
        branch = next(b for b in resolved if isinstance(b, dict) and b["name"].rsplit(".", 1)[-1] == value[KIND])
        return branch["name"], _datum(branch, {k: v for k, v in value.items() if k != KIND})
    return _datum(resolved[0], value) if len(resolved) == 1 else value

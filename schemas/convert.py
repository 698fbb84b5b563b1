"""Dataclass <-> fastavro datum conversion, driven by the schemas and compiled once per class.

Each class gets a plan: a tuple of (field name, converter or None). Converting is then
one pass over the plan with no reflection, so it stays cheap in hot loops. Values in
unions that are records are written in fastavro's tuple notation `(full_name, dict)`,
which picks the branch by name instead of by trial validation: unambiguous and faster.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, TypeVar

from .base import Record
from .catalog import CATALOG, Catalog

R = TypeVar("R", bound=Record)
Conv = Callable[[Any], Any]
Plan = tuple[tuple[str, Conv | None], ...]

PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})
TIMESTAMPS = frozenset({"timestamp-micros", "timestamp-millis"})


def _aware(value: datetime) -> datetime:
    # fastavro would encode a naive datetime as *local* time: refuse instead of guessing.
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: use a tz-aware (UTC) datetime")
    return value


class Converter:
    """Converts records of one catalog; plans are compiled lazily and cached per class."""

    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog
        self._to_plans: dict[type[Record], Plan] = {}
        self._from_plans: dict[type[Record], Plan] = {}

    # ---------------------------------------------------------------- public
    def to_avro(self, obj: Record) -> dict[str, Any]:
        """Record -> fastavro datum (dict), ready for schemaless_writer."""
        plan = self._to_plans.get(type(obj)) or self._compile_to(type(obj))
        out: dict[str, Any] = {}
        for name, conv in plan:
            value = getattr(obj, name)
            out[name] = value if conv is None or value is None else conv(value)
        return out

    def from_avro(self, cls: type[R], data: Mapping[str, Any]) -> R:
        """fastavro datum -> record of class `cls`.

        Expects fastavro's reader options return_record_name=True and
        return_record_name_override=True: multi-record unions as (name, dict), others plain.
        """
        plan = self._from_plans.get(cls) or self._compile_from(cls)
        kwargs: dict[str, Any] = {}
        for name, conv in plan:
            if name in data:  # absent only for hand-built dicts: the dataclass default applies
                value = data[name]
                kwargs[name] = value if conv is None or value is None else conv(value)
        return cls(**kwargs)

    # ---------------------------------------------------------------- plans
    def _fields(self, cls: type[Record]) -> list[dict[str, Any]]:
        fields: list[dict[str, Any]] = self._catalog.named_type(cls.avro_name)["fields"]
        return fields

    def _compile_to(self, cls: type[Record]) -> Plan:
        plan = tuple((f["name"], self._to_conv(f["type"])) for f in self._fields(cls))
        self._to_plans[cls] = plan
        return plan

    def _compile_from(self, cls: type[Record]) -> Plan:
        plan = tuple((f["name"], self._from_conv(f["type"])) for f in self._fields(cls))
        self._from_plans[cls] = plan
        return plan

    def _resolve(self, schema: Any) -> Any:
        """Replace a named-type reference by its definition; leave anything else."""
        if isinstance(schema, str) and schema not in PRIMITIVES:
            return self._catalog.named_type(schema)
        return schema

    # ---------------------------------------------------------------- to avro
    def _to_conv(self, schema: Any) -> Conv | None:
        schema = self._resolve(schema)
        if isinstance(schema, list):
            return self._to_union(schema)
        if not isinstance(schema, dict):
            return None
        kind = schema["type"]
        if kind == "record":
            return self.to_avro
        if kind == "array":
            return _each(self._to_conv(schema["items"]))
        if kind == "map":
            return _each_value(self._to_conv(schema["values"]))
        if schema.get("logicalType") in TIMESTAMPS:
            return _aware
        return None  # enums (StrEnum is a str), primitives

    def _to_union(self, branches: list[Any]) -> Conv | None:
        resolved = [self._resolve(b) for b in branches if b != "null"]
        if not any(isinstance(b, dict) and b["type"] == "record" for b in resolved):
            return self._to_conv(resolved[0]) if len(resolved) == 1 else None
        to_avro = self.to_avro
        return lambda v: (v.avro_name, to_avro(v)) if isinstance(v, Record) else v

    # ---------------------------------------------------------------- from avro
    def _from_conv(self, schema: Any) -> Conv | None:
        schema = self._resolve(schema)
        if isinstance(schema, list):
            return self._from_union(schema)
        if not isinstance(schema, dict):
            return None
        kind = schema["type"]
        if kind == "record":
            cls = self._catalog.record_class(schema["name"])
            from_avro = self.from_avro
            return lambda d: from_avro(cls, d)
        if kind == "enum":
            return self._catalog.enum_class(schema["name"])
        if kind == "array":
            return _each(self._from_conv(schema["items"]))
        if kind == "map":
            return _each_value(self._from_conv(schema["values"]))
        return None  # primitives; fastavro already turns timestamps into aware datetimes

    def _from_union(self, branches: list[Any]) -> Conv | None:
        resolved = [self._resolve(b) for b in branches if b != "null"]
        by_name = {b["name"]: self._from_conv(b) for b in resolved if isinstance(b, dict) and "name" in b}
        single = self._from_conv(resolved[0]) if len(resolved) == 1 else None
        if not by_name:
            return single

        def conv(value: Any) -> Any:
            if isinstance(value, tuple):  # (full name, datum) from a multi-named union
                name, value = value
                branch = by_name[name]
                return value if branch is None else branch(value)
            return value if single is None else single(value)

        return conv


def _each(conv: Conv | None) -> Conv | None:
    return None if conv is None else (lambda items: [conv(x) for x in items])


def _each_value(conv: Conv | None) -> Conv | None:
    return None if conv is None else (lambda m: {k: conv(v) for k, v in m.items()})


CONVERTER = Converter(CATALOG)
to_avro = CONVERTER.to_avro
from_avro = CONVERTER.from_avro

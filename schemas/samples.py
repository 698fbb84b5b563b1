"""Deterministic sample instances of every record class, for tests and benchmarks.

Driven by the schemas, so a new field or record is covered without edits. `variant`
rotates through union branches and enum symbols; odd variants set optional fields to
None, even ones fill them, so a handful of variants exercises every shape.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar, cast

from .base import Record
from .catalog import CATALOG, Catalog

R = TypeVar("R", bound=Record)
BASE_TIME = datetime(2024, 2, 29, 23, 59, 58, 123456, tzinfo=UTC)
_SCALARS: dict[str, Any] = {
    "boolean": lambda name, v: v % 2 == 0,
    "int": lambda name, v: v + 1,
    "long": lambda name, v: 2**40 + v,  # needs more than 32 bits on purpose
    "float": lambda name, v: 0.5 + v,
    "double": lambda name, v: 1.25 + v,
    "string": lambda name, v: f"{name}-{v}-ü",  # non-ASCII on purpose
    "bytes": lambda name, v: bytes([v % 256]),
}


def variant_count(catalog: Catalog = CATALOG) -> int:
    """Variants needed so every union branch and enum symbol shows up at least once."""
    widest = max(_widest_choice(s.standalone) for s in catalog.schemas.schemas.values())
    return max(2, widest) * 2  # x2: each choice once with optionals filled and once empty


def _widest_choice(node: Any) -> int:
    """Largest enum or union anywhere in a schema."""
    if isinstance(node, list):
        return max([len(node), *(_widest_choice(n) for n in node)])
    if not isinstance(node, dict):
        return 0
    own = len(node["symbols"]) if node.get("type") == "enum" else 0
    children = [node[k] for k in ("type", "items", "values") if k in node]
    children += [f["type"] for f in node.get("fields", ())]
    return max([own, *(_widest_choice(c) for c in children)])


def sample(cls: type[R], variant: int = 0, catalog: Catalog = CATALOG) -> R:
    """A fully valid instance of `cls`; envelope.type is set to the class's short name."""
    record: Any = _record(cls, variant, catalog)
    envelope = getattr(record, "envelope", None)
    if envelope is not None:
        record = dataclasses.replace(record, envelope=dataclasses.replace(envelope, type=cls.short_name()))
    return cast(R, record)


def _record(cls: type[R], variant: int, catalog: Catalog) -> R:
    fields = catalog.named_type(cls.avro_name)["fields"]
    return cls(**{f["name"]: _value(f["type"], f["name"], variant, catalog) for f in fields})


def _value(schema: Any, name: str, variant: int, catalog: Catalog) -> Any:
    if isinstance(schema, str):
        if schema in _SCALARS:
            return _SCALARS[schema](name, variant)
        schema = catalog.named_type(schema)
    if isinstance(schema, list):
        return _union(schema, name, variant, catalog)
    kind = schema["type"]
    if schema.get("logicalType") == "timestamp-micros":
        return BASE_TIME + timedelta(seconds=variant, microseconds=variant)
    if kind == "record":
        return _record(catalog.record_class(schema["name"]), variant, catalog)
    if kind == "enum":
        symbols = schema["symbols"]
        return catalog.enum_class(schema["name"])(symbols[variant % len(symbols)])
    if kind == "array":
        return [_value(schema["items"], name, variant + i, catalog) for i in range(2)]
    if kind == "map":
        return {f"k{i}": _value(schema["values"], name, variant + i, catalog) for i in range(2)}
    return _value(kind, name, variant, catalog)  # {"type": "long"} etc.


def _union(branches: list[Any], name: str, variant: int, catalog: Catalog) -> Any:
    options = [b for b in branches if b != "null"]
    if "null" in branches and variant % 2 == 1:
        return None
    return _value(options[(variant // 2) % len(options)], name, variant, catalog)

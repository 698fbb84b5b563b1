"""Representative Avro datums for a schema, used to probe schema resolution.

Deterministic variants make sure every union branch, every enum symbol, null and
non-null optionals, and empty and non-empty collections occur at every position;
seeded random datums (fastavro.utils.generate_many) add value variety on top.
"""

from __future__ import annotations

import random
from typing import Any

from fastavro.utils import gen_data, generate_many

from .loader import LoadedSchema

INTS = (0, 1, -1, 2**31 - 1, -(2**31))
LONGS = (0, 1, -1, 2**63 - 1, -(2**63))
DOUBLES = (0.0, 1.5, -2.25, 1e300)
STRINGS = ("", "x", "ünïcødé ✓")
SAFE_MICROS = (0, 1_700_000_000_123_456, 4_102_444_800_000_000)  # 1970, 2023, 2100


def representative_datums(schema: LoadedSchema, random_count: int = 25, seed: int = 0) -> list[Any]:
    """Deterministic variants covering every choice, plus `random_count` seeded random datums."""
    named = schema.named_types
    widest = _widest(schema.standalone)
    count = max(6, 2 * widest * widest)  # a union branch sees v // len(union): covers one nesting level
    datums = [_datum(schema.parsed, named, v) for v in range(count)]
    state = random.getstate()  # fastavro uses the global RNG: seed it, then put it back
    try:
        random.seed(seed)
        datums.extend(generate_many(schema.standalone, random_count))
    finally:
        random.setstate(state)
    return datums


def _datum(schema: Any, named: dict[str, Any], v: int) -> Any:
    if isinstance(schema, list):
        return _union(schema, named, v)
    if isinstance(schema, str):
        return _primitive(schema, v) if schema in _PRIMITIVE_KINDS else _datum(named[schema], named, v)
    kind, logical = schema["type"], schema.get("logicalType")
    if logical in ("timestamp-micros", "timestamp-millis"):
        micros = SAFE_MICROS[v % len(SAFE_MICROS)]
        return micros if logical == "timestamp-micros" else micros // 1000
    if logical is not None:
        return gen_data(schema, named)  # other logical types: let fastavro pick a valid value
    if kind == "record" or kind == "error":
        return {f["name"]: _datum(f["type"], named, v) for f in schema["fields"]}
    if kind == "enum":
        return schema["symbols"][v % len(schema["symbols"])]
    if kind == "fixed":
        return bytes([v % 256]) * schema["size"]
    if kind == "array":
        return [] if v % 3 == 2 else [_datum(schema["items"], named, v + i) for i in range(2)]
    if kind == "map":
        return {} if v % 3 == 2 else {f"k{i}": _datum(schema["values"], named, v + i) for i in range(2)}
    return _datum(kind, named, v)


def _union(branches: list[Any], named: dict[str, Any], v: int) -> Any:
    branch = branches[v % len(branches)]
    if branch == "null":
        return None
    # Tuple notation pins the branch, so each one really gets written.
    return (_branch_name(branch), _datum(branch, named, v // len(branches)))


def _branch_name(branch: Any) -> str:
    if isinstance(branch, dict):
        return str(branch.get("name", branch["type"]))
    return str(branch)


_PRIMITIVE_KINDS = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})


def _primitive(kind: str, v: int) -> Any:
    values: dict[str, Any] = {
        "null": None,
        "boolean": v % 2 == 0,
        "int": INTS[v % len(INTS)],
        "long": LONGS[v % len(LONGS)],
        "float": DOUBLES[v % 3],  # 1e300 overflows a float
        "double": DOUBLES[v % len(DOUBLES)],
        "bytes": bytes([v % 256]),
        "string": STRINGS[v % len(STRINGS)],
    }
    return values[kind]


def _widest(node: Any) -> int:
    """Largest enum or union anywhere in a schema (how many variants cover every choice)."""
    if isinstance(node, list):
        return max([len(node), *(_widest(n) for n in node)])
    if not isinstance(node, dict):
        return 0
    own = len(node["symbols"]) if node.get("type") == "enum" else 0
    children = [node[k] for k in ("type", "items", "values") if k in node]
    children += [f["type"] for f in node.get("fields", ())]
    return max([own, *(_widest(c) for c in children)])

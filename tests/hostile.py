"""Hypothesis strategies for hostile commands-topic input: random bytes, unknown schema
fingerprints, real headers before broken bodies, and valid Avro commands whose values are
extreme (huge strings, negative or huge numbers, NaN and infinities, deeply nested JSON,
enormous lists). The valid ones start from ``schemas.samples`` and mutate its leaves, so every
command type and field is covered without naming them."""

from __future__ import annotations

import copy
import dataclasses
import math
from datetime import UTC, datetime
from enum import Enum
from io import BytesIO
from typing import Any

from fastavro import parse_schema, schemaless_writer
from hypothesis import strategies as st

from jobstream.schemas import Command
from jobstream.schemas.catalog import CATALOG
from jobstream.schemas.codec import MARKER
from jobstream.schemas.convert import CONVERTER
from jobstream.schemas.samples import sample, variant_count

COMMAND_CLASSES = sorted((cls for cls in CATALOG.record_classes if issubclass(cls, Command)),
                         key=lambda cls: cls.__name__)
HUGE = 100_000  # characters or items: large, yet a command stays under the broker's 1 MB
INT32, INT64 = 2**31 - 1, 2**63 - 1

strings = st.one_of(
    st.text(max_size=20),
    st.just(""),
    st.just("x" * HUGE),
    st.just("\x00\ud7ff\U0010ffff"),
    st.just("[" * HUGE),  # JSON nested deeper than any parser recurses
    st.just("{\"a\":" * HUGE),
    st.sampled_from(["NaN", "Infinity", "-1", "1e999", "../../etc/passwd", "$(reboot)", "x=y"]),
)
ints = st.one_of(st.sampled_from([0, -1, 1, -INT32 - 1, INT32]), st.integers(-INT32 - 1, INT32))
longs = st.one_of(ints, st.sampled_from([-INT64 - 1, INT64]))
floats = st.one_of(st.sampled_from([0.0, -0.0, -1.0, math.nan, math.inf, -math.inf, 1e308, -1e308, 5e-324]),
                   st.floats(allow_nan=True, allow_infinity=True))
times = st.sampled_from([datetime(1, 1, 1, tzinfo=UTC), datetime(9999, 12, 31, tzinfo=UTC),
                         datetime(1970, 1, 1, tzinfo=UTC)])


@st.composite
def hostile_value(draw: st.DrawFn, value: Any) -> Any:
    """``value`` with some of its leaves made hostile (some kept, so deeper checks are reached)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.replace(value, **{f.name: draw(hostile_value(getattr(value, f.name)))
                                             for f in dataclasses.fields(value)})
    if isinstance(value, list):
        items = [draw(hostile_value(item)) for item in value]
        return items * draw(st.sampled_from([0, 1, HUGE // 20])) if items else items
    if isinstance(value, dict):
        return {draw(strings): draw(hostile_value(item)) for item in value.values()}
    if value is None or isinstance(value, bool | Enum) or draw(st.integers(0, 3)) == 0:
        return value
    return draw(_leaf(value))


def _leaf(value: Any) -> st.SearchStrategy[Any]:
    if isinstance(value, int):
        return longs if abs(value) > INT32 else ints
    if isinstance(value, float):
        return floats
    if isinstance(value, str):
        return strings
    if isinstance(value, bytes):
        return st.binary(max_size=64)
    if isinstance(value, datetime):
        return times
    return st.just(value)


@st.composite
def hostile_command(draw: st.DrawFn) -> Command:
    """A valid Avro command of any type with hostile values."""
    cls = draw(st.sampled_from(COMMAND_CLASSES))
    return draw(hostile_value(sample(cls, draw(st.integers(0, variant_count() - 1)))))


def broken_bytes(headers: list[bytes]) -> st.SearchStrategy[bytes]:
    """Bytes no codec can read: random, an unknown fingerprint, or a known header before a wrong body."""
    return st.one_of(
        st.binary(max_size=200),
        st.binary(min_size=8, max_size=8).map(lambda fingerprint: MARKER + fingerprint + b"\x02ab"),
        st.tuples(st.sampled_from(headers), st.binary(max_size=100)).map(lambda pair: pair[0] + pair[1]),
    )


FUTURE_SYMBOL = "from_a_newer_version"


def unknown_enum_symbols() -> list[bytes]:
    """For each enum field of a command: a message under the command's real fingerprint whose body
    holds a symbol the schema does not know (as a producer with a newer, incompatible schema writes)."""
    messages = []
    for cls in COMMAND_CLASSES:
        loaded = CATALOG.schema(cls)
        for field in loaded.standalone["fields"]:
            if isinstance(field["type"], dict) and field["type"].get("type") == "enum":
                schema = copy.deepcopy(loaded.standalone)
                enum = next(f["type"] for f in schema["fields"] if f["name"] == field["name"])
                enum["symbols"].append(FUTURE_SYMBOL)
                datum = {**CONVERTER.to_avro(sample(cls)), field["name"]: FUTURE_SYMBOL}
                body = BytesIO()
                schemaless_writer(body, parse_schema(schema), datum)
                messages.append(MARKER + loaded.fingerprint + body.getvalue())
    return messages

"""Avro binary bodies straight from/to our record dataclasses, one generated function per record.

The generic path (``Converter`` to a fastavro datum dict, then fastavro's writer or reader) pays
twice per field: once to build or read the intermediate dict, once for fastavro's per-value type
dispatch, and for unions its trial validation. Here each record class gets a reader and a writer
generated once from its schema, that walk its fields in order with no dict and no dispatch.

The bytes are those fastavro writes (one block per non-empty array or map, shortest varints), and
values read are those ``Converter.from_avro`` builds (enums as their StrEnum, timestamps as aware
UTC datetimes): the golden and equivalence tests hold both sides to that. Readers accept any valid
Avro (multi-block and sized-block arrays and maps, longer varints). Writer-schema resolution stays
with fastavro; a schema using a shape this module does not handle (say a union of two primitive
types) gets no compiled functions and its class keeps the generic path (``compile_writer`` and
``compile_reader`` return None).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from .base import Record
from .catalog import Catalog

Writer = Callable[[bytearray, Any], None]
Reader = Callable[[bytes, int], tuple[Any, int]]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ZERO = b"\x00"
LONG_MIN, LONG_MAX = -(2**63), 2**63 - 1
_TABLE_MIN = -8192  # every 1- and 2-byte varint is precomputed: lengths, counts, seqs, priorities


class Unsupported(Exception):
    """A schema shape the generator does not handle: the class keeps the generic path."""


# ---------------------------------------------------------------- primitives
def _varint_of(n: int) -> bytes:
    if not LONG_MIN <= n <= LONG_MAX:
        raise OverflowError(f"{n} does not fit an Avro long")
    zigzag = (n << 1) ^ (n >> 63)
    out = bytearray()
    while zigzag > 0x7F:
        out.append((zigzag & 0x7F) | 0x80)
        zigzag >>= 7
    out.append(zigzag)
    return bytes(out)


_SMALL = [_varint_of(n) for n in range(_TABLE_MIN, -_TABLE_MIN)]


def encode_long(n: int) -> bytes:
    """Zigzag varint of an Avro int or long (a float is a TypeError, as in fastavro)."""
    if _TABLE_MIN <= n < -_TABLE_MIN:
        return _SMALL[n - _TABLE_MIN]
    return _varint_of(n)


def write_string(out: bytearray, value: str) -> None:
    data = value.encode()
    out += encode_long(len(data))
    out += data


def write_bytes(out: bytearray, value: bytes) -> None:
    out += encode_long(len(value))
    out += value


def micros(value: datetime) -> int:
    """timestamp-micros of an aware datetime, computed as fastavro does."""
    if value.tzinfo is None:  # fastavro would take a naive datetime as *local* time: refuse
        raise ValueError(f"naive datetime {value!r}: use a tz-aware (UTC) datetime")
    delta = value - EPOCH
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def read_long(data: bytes, pos: int) -> tuple[int, int]:
    byte = data[pos]
    if byte < 0x80:
        return (byte >> 1) ^ -(byte & 1), pos + 1
    zigzag, shift = byte & 0x7F, 7
    while True:
        pos += 1
        byte = data[pos]
        zigzag |= (byte & 0x7F) << shift
        if byte < 0x80:
            return (zigzag >> 1) ^ -(zigzag & 1), pos + 1
        shift += 7
        if shift > 63:
            raise ValueError("varint longer than 10 bytes")


def _span(data: bytes, pos: int) -> tuple[int, int]:
    """Start and end of a length-prefixed string or bytes value."""
    size = data[pos]
    if size < 0x80:
        size, pos = (size >> 1) ^ -(size & 1), pos + 1
    else:
        size, pos = read_long(data, pos)
    end = pos + size
    if size < 0 or end > len(data):
        raise EOFError(f"a value of {size} bytes at {pos} overruns the {len(data)}-byte message")
    return pos, end


def read_string(data: bytes, pos: int) -> tuple[str, int]:
    start, end = _span(data, pos)
    return data[start:end].decode(), end


def read_bytes(data: bytes, pos: int) -> tuple[bytes, int]:
    start, end = _span(data, pos)
    return data[start:end], end


def read_timestamp(data: bytes, pos: int) -> tuple[datetime, int]:
    value, pos = read_long(data, pos)
    return EPOCH + timedelta(microseconds=value), pos


class Lookup(dict[Any, Any]):
    """A table whose missing key is a ValueError naming what was looked up (as fastavro's)."""

    def __init__(self, what: str, items: dict[Any, Any]) -> None:
        super().__init__(items)
        self.what = what

    def __missing__(self, key: Any) -> Any:
        raise ValueError(f"{key!r} is not a {self.what}")


_PACK_DOUBLE, _PACK_FLOAT = struct.Struct("<d"), struct.Struct("<f")
PRIMITIVE_NAMESPACE: dict[str, Any] = {
    "ZERO": ZERO, "TRUE": b"\x01", "encode_long": encode_long, "write_string": write_string,
    "write_bytes": write_bytes, "micros": micros, "pack_double": _PACK_DOUBLE.pack, "pack_float": _PACK_FLOAT.pack,
    "read_long": read_long, "read_string": read_string, "read_bytes": read_bytes, "read_timestamp": read_timestamp,
    "unpack_double": _PACK_DOUBLE.unpack_from, "unpack_float": _PACK_FLOAT.unpack_from,
}


# ---------------------------------------------------------------- generation
class _Source:
    """Lines of one generated function, fresh local names, and the objects its code refers to."""

    def __init__(self, namespace: dict[str, Any]) -> None:
        self.lines: list[str] = []
        self.namespace = namespace
        self._counter = 0

    def name(self, prefix: str) -> str:
        self._counter += 1
        return f"{prefix}{self._counter}"

    def bind(self, prefix: str, obj: Any) -> str:
        """A global of the generated code holding ``obj``."""
        name = self.name(f"_{prefix}")
        self.namespace[name] = obj
        return name

    def add(self, indent: int, line: str) -> None:
        self.lines.append("    " * indent + line)


class BinaryCompiler:
    """Generates, caches and hands out the writer and reader of each record class of a catalog."""

    def __init__(self, catalog: Catalog, memoized: frozenset[str] = frozenset()) -> None:
        self._catalog = catalog
        self._memoized = memoized
        self._writers: dict[str, Writer | None] = {}
        self._readers: dict[str, Reader | None] = {}

    def compile_writer(self, cls: type[Record]) -> Writer | None:
        """``write(out, record)`` appending the record's body to ``out``; None if unsupported."""
        try:
            return self._writer(cls.avro_name)
        except Unsupported:
            return None

    def compile_reader(self, cls: type[Record]) -> Reader | None:
        """``read(data, pos) -> (record, end)``; None if unsupported."""
        try:
            return self._reader(cls.avro_name)
        except Unsupported:
            return None

    def _resolve(self, schema: Any) -> Any:
        if isinstance(schema, str) and schema in self._catalog.schemas.named:
            return self._catalog.named_type(schema)
        return schema

    # ------------------------------------------------------------ writers
    def _writer(self, name: str) -> Writer:
        if name in self._writers:
            known = self._writers[name]
            if known is None:
                raise Unsupported(f"{name} is recursive or unsupported")
            return known
        self._writers[name] = None  # a recursive reference finds None: unsupported, not endless
        src = _Source(dict(PRIMITIVE_NAMESPACE))
        for field in self._catalog.named_type(name)["fields"]:
            value = src.name("v")
            src.add(1, f"{value} = record.{field['name']}")
            self._write_value(src, field["type"], value, 1)
        writer: Writer = _define(src, "write", "out, record", name)
        if name in self._memoized:
            writer = _memoize(writer)
        self._writers[name] = writer
        return writer

    def _write_value(self, src: _Source, schema: Any, value: str, indent: int) -> None:  # noqa: C901
        schema = self._resolve(schema)
        add = src.add
        if isinstance(schema, list):
            return self._write_union(src, schema, value, indent)
        kind = schema["type"] if isinstance(schema, dict) else schema
        logical = schema.get("logicalType") if isinstance(schema, dict) else None
        if kind == "long" and logical == "timestamp-micros":
            add(indent, f"out += encode_long(micros({value}))")
        elif logical is not None:
            raise Unsupported(f"logical type {logical}")
        elif kind == "null":
            add(indent, "pass")
        elif kind == "boolean":
            add(indent, f"out += TRUE if {value} else ZERO")
        elif kind in ("int", "long"):
            add(indent, f"out += encode_long({value})")
        elif kind == "double":
            add(indent, f"out += pack_double({value})")
        elif kind == "float":
            add(indent, f"out += pack_float({value})")
        elif kind == "string":
            add(indent, f"write_string(out, {value})")
        elif kind == "bytes":
            add(indent, f"write_bytes(out, {value})")
        elif kind == "enum":
            table = Lookup(f"symbol of {schema['name']}", {s: encode_long(i) for i, s in enumerate(schema["symbols"])})
            add(indent, f"out += {src.bind('symbols', table)}[{value}]")
        elif kind == "record":
            add(indent, f"{src.bind('write', self._writer(schema['name']))}(out, {value})")
        elif kind in ("array", "map"):
            item = src.name("x")
            add(indent, f"if len({value}):")  # len(): None is a TypeError, as in fastavro, not an empty array
            add(indent + 1, f"out += encode_long(len({value}))")
            if kind == "array":
                add(indent + 1, f"for {item} in {value}:")
            else:
                key = src.name("k")
                add(indent + 1, f"for {key}, {item} in {value}.items():")
                add(indent + 2, f"write_string(out, {key})")
            self._write_value(src, schema["items" if kind == "array" else "values"], item, indent + 2)
            add(indent, "out += ZERO")
        else:
            raise Unsupported(f"type {kind}")

    def _write_union(self, src: _Source, branches: list[Any], value: str, indent: int) -> None:
        """Null by ``is None``, the one other branch otherwise; several records by class (the
        branch fastavro takes for the converter's (name, datum) notation)."""
        resolved = [self._resolve(b) for b in branches]
        others = [(i, b) for i, b in enumerate(resolved) if b != "null"]
        null = next((i for i, b in enumerate(resolved) if b == "null"), None)
        keyword = "if"
        if null is not None:
            src.add(indent, f"if {value} is None:")
            src.add(indent + 1, f"out += {encode_long(null)!r}")
            keyword = "elif"
        if len(others) == 1:
            index, branch = others[0]
            src.add(indent, "else:" if keyword == "elif" else "if True:")
            src.add(indent + 1, f"out += {encode_long(index)!r}")
            return self._write_value(src, branch, value, indent + 1)
        if not all(isinstance(b, dict) and b["type"] == "record" for _, b in others):
            raise Unsupported("a union of several non-record branches")
        by_class = Lookup("record of this union", {
            self._catalog.record_class(b["name"]): (encode_long(i), self._writer(b["name"])) for i, b in others})
        prefix, write = src.name("p"), src.name("w")
        src.add(indent, "else:" if keyword == "elif" else "if True:")
        src.add(indent + 1, f"{prefix}, {write} = {src.bind('branches', by_class)}[type({value})]")
        src.add(indent + 1, f"out += {prefix}")
        src.add(indent + 1, f"{write}(out, {value})")

    # ------------------------------------------------------------ readers
    def _reader(self, name: str) -> Reader:
        if name in self._readers:
            known = self._readers[name]
            if known is None:
                raise Unsupported(f"{name} is recursive or unsupported")
            return known
        self._readers[name] = None
        src = _Source(dict(PRIMITIVE_NAMESPACE))
        kwargs = []
        for field in self._catalog.named_type(name)["fields"]:
            value = src.name("v")
            self._read_value(src, field["type"], value, 1)
            kwargs.append(f"{field['name']}={value}")
        cls = src.bind("cls", self._catalog.record_class(name))
        src.add(1, f"return {cls}({', '.join(kwargs)}), pos")
        reader: Reader = _define(src, "read", "data, pos", name)
        self._readers[name] = reader
        return reader

    def _read_value(self, src: _Source, schema: Any, target: str, indent: int) -> None:  # noqa: C901
        schema = self._resolve(schema)
        add = src.add
        if isinstance(schema, list):
            return self._read_union(src, schema, target, indent)
        kind = schema["type"] if isinstance(schema, dict) else schema
        logical = schema.get("logicalType") if isinstance(schema, dict) else None
        if kind == "long" and logical == "timestamp-micros":
            add(indent, f"{target}, pos = read_timestamp(data, pos)")
        elif logical is not None:
            raise Unsupported(f"logical type {logical}")
        elif kind == "null":
            add(indent, f"{target} = None")
        elif kind == "boolean":
            add(indent, f"{target} = data[pos] != 0")  # fastavro reads any non-zero byte as true
            add(indent, "pos += 1")
        elif kind in ("int", "long"):
            add(indent, f"{target}, pos = read_long(data, pos)")
        elif kind in ("double", "float"):
            add(indent, f"{target}, = unpack_{kind}(data, pos)")
            add(indent, f"pos += {8 if kind == 'double' else 4}")
        elif kind == "string":
            add(indent, f"{target}, pos = read_string(data, pos)")
        elif kind == "bytes":
            add(indent, f"{target}, pos = read_bytes(data, pos)")
        elif kind == "enum":
            enum = self._catalog.enum_class(schema["name"])
            table = Lookup(f"symbol index of {schema['name']}", {i: enum(s) for i, s in enumerate(schema["symbols"])})
            index = src.name("i")
            add(indent, f"{index}, pos = read_long(data, pos)")
            add(indent, f"{target} = {src.bind('symbols', table)}[{index}]")
        elif kind == "record":
            add(indent, f"{target}, pos = {src.bind('read', self._reader(schema['name']))}(data, pos)")
        elif kind in ("array", "map"):
            self._read_blocks(src, schema, kind, target, indent)
        else:
            raise Unsupported(f"type {kind}")

    def _read_blocks(self, src: _Source, schema: Any, kind: str, target: str, indent: int) -> None:
        """Blocks until a zero count; a negative count is followed by the block's size in bytes."""
        add = src.add
        count, item = src.name("n"), src.name("x")
        add(indent, f"{target} = {'[]' if kind == 'array' else '{}'}")
        add(indent, f"{count}, pos = read_long(data, pos)")
        add(indent, f"while {count}:")
        add(indent + 1, f"if {count} < 0:")
        add(indent + 2, f"{count} = -{count}")
        add(indent + 2, "_, pos = read_long(data, pos)")
        add(indent + 1, f"for _ in range({count}):")
        if kind == "map":
            key = src.name("k")
            add(indent + 2, f"{key}, pos = read_string(data, pos)")
        self._read_value(src, schema["items" if kind == "array" else "values"], item, indent + 2)
        add(indent + 2, f"{target}.append({item})" if kind == "array" else f"{target}[{key}] = {item}")
        add(indent + 1, f"{count}, pos = read_long(data, pos)")

    def _read_union(self, src: _Source, branches: list[Any], target: str, indent: int) -> None:
        index = src.name("u")
        src.add(indent, f"{index}, pos = read_long(data, pos)")
        for i, branch in enumerate(branches):
            src.add(indent, f"{'if' if i == 0 else 'elif'} {index} == {i}:")
            self._read_value(src, branch, target, indent + 1)
        src.add(indent, "else:")
        src.add(indent + 1, f"raise ValueError(f'union index {{{index}}} out of range')")


def _define(src: _Source, kind: str, params: str, record_name: str) -> Any:
    """Compile the generated body into a function named after its record (readable in profiles)."""
    func_name = f"{kind}_{record_name.replace('.', '_')}"
    code = f"def {func_name}({params}):\n" + "\n".join(src.lines or ["    pass"]) + "\n"
    exec(compile(code, f"<avro {kind} {record_name}>", "exec"), src.namespace)  # noqa: S102 - our own schemas
    func = src.namespace[func_name]
    func.__source__ = code  # for debugging: print(writer.__source__)
    return func


MEMO_SIZE = 64


def _memoize(write: Writer) -> Writer:
    """Reuse the bytes of the last few records written, by identity.

    A decision writes the same JobSpec object into its JobSubmitted and its JobReady: encoding
    it once saves a third of a SubmitJob's encoding. Entries hold their
    record, so an id cannot be reused while cached. Records are frozen; their lists and maps are
    never changed in place once built (everything derives new values, see ``core/patch.py``).
    """
    memo: dict[int, tuple[Any, bytes]] = {}

    def write_memoized(out: bytearray, record: Any) -> None:
        hit = memo.get(id(record))
        if hit is not None and hit[0] is record:
            out += hit[1]
            return
        start = len(out)
        write(out, record)
        if len(memo) >= MEMO_SIZE:
            memo.clear()  # crude but atomic: safe if codecs are shared between threads
        memo[id(record)] = (record, bytes(out[start:]))

    return write_memoized

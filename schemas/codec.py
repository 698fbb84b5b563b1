"""Wire formats for records on Kafka.

Default: Avro single-object encoding (spec, "Single object encoding"):
    C3 01 | 8-byte little-endian CRC-64-AVRO fingerprint of the schema's canonical form | body
With a schema registry configured: Confluent wire format (see confluent.py):
    00 | 4-byte big-endian schema id | body

Decoding failures always raise MessageDecodeError naming topic/partition/offset.

Bodies of the current schemas are written and read by functions generated per record class
(binary.py); bodies of other writer schemas are resolved by fastavro.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any, Protocol

from fastavro import schemaless_reader, schemaless_writer

from .base import Record
from .binary import BinaryCompiler, Reader, Writer
from .catalog import CATALOG, Catalog
from .convert import CONVERTER, Converter
from .errors import MessageDecodeError
from .loader import BASELINE_DIR, LoadedSchema, load_schema_set

MARKER = b"\xc3\x01"
HEADER_LEN = len(MARKER) + 8
# The JobSpec of a decision is written twice (JobSubmitted, JobReady): once is enough.
MEMOIZED = frozenset({"jobstream.common.JobSpec"})


class Codec(Protocol):
    """Turns records into Kafka message values and back."""

    def encode(self, record: Record, topic: str | None = None) -> bytes:
        """Serialize; `topic` is needed by registry-backed codecs, ignored otherwise."""
        ...

    def decode(self, data: bytes, *, topic: str, partition: int, offset: int) -> Record:
        """Deserialize or raise MessageDecodeError naming topic/partition/offset."""
        ...


@dataclass(frozen=True, slots=True)
class WriterEntry:
    """How to read bodies written with one writer schema."""

    cls: type[Record]
    writer: Any  # fastavro-parsed writer schema
    reader: Any | None  # current schema if it differs from the writer (resolution), else None


def writer_entry(writer: LoadedSchema, catalog: Catalog) -> WriterEntry:
    """Entry for a writer schema of a record known to `catalog` (KeyError if unknown)."""
    current = catalog.schema(writer.name)
    same = current.canonical == writer.canonical
    return WriterEntry(catalog.record_class(writer.name), writer.parsed, None if same else current.parsed)


def write_body(buf: BytesIO, schema: Any, datum: dict[str, Any]) -> bytes:
    """Append the Avro binary body to `buf` (already holding the header) and return all bytes."""
    schemaless_writer(buf, schema, datum)
    return buf.getvalue()


def read_body(
    data: bytes, start: int, entry: WriterEntry, converter: Converter, *, topic: str, partition: int, offset: int
) -> Record:
    """Decode data[start:] with `entry`; every failure becomes a MessageDecodeError."""
    try:
        buf = BytesIO(data)
        buf.seek(start)
        datum: Any = schemaless_reader(
            buf, entry.writer, entry.reader, return_record_name=True, return_record_name_override=True
        )  # the union shape Converter.from_avro expects
        trailing = len(data) - buf.tell()
        if trailing:
            raise ValueError(f"{trailing} trailing bytes after the {entry.cls.avro_name} body")
        return converter.from_avro(entry.cls, datum)
    except Exception as exc:  # fastavro raises EOFError, ValueError, UnicodeDecodeError, ...
        reason = f"bad {entry.cls.avro_name} body: {type(exc).__name__}: {exc}"
        raise MessageDecodeError(topic, partition, offset, reason) from exc


class SingleObjectCodec:
    """Avro single-object encoding; writer schemas are looked up by fingerprint."""

    def __init__(self, catalog: Catalog = CATALOG, converter: Converter = CONVERTER) -> None:
        self._catalog = catalog
        self._converter = converter
        self._compiler = BinaryCompiler(catalog, MEMOIZED)
        self._headers: dict[type[Record], tuple[bytes, Any]] = {}
        self._writers: dict[bytes, WriterEntry] = {}
        # Compiled on first use: (header, generated writer or None for the generic path) per class,
        # and the generated reader of each current schema's fingerprint (None: the generic path).
        self._encoders: dict[type[Record], tuple[bytes, Writer | None]] = {}
        self._readers: dict[bytes, Reader | None] = {}
        for cls in catalog.record_classes:
            loaded = catalog.schema(cls)
            self._headers[cls] = (MARKER + loaded.fingerprint, loaded.parsed)
            self._writers[loaded.fingerprint] = writer_entry(loaded, catalog)

    def add_writer_schemas(self, schemas: list[LoadedSchema]) -> None:
        """Accept data written with other (e.g. older) versions of known records."""
        for loaded in schemas:
            if loaded.name in self._catalog.schemas.schemas and loaded.standalone["type"] == "record":
                self._writers.setdefault(loaded.fingerprint, writer_entry(loaded, self._catalog))

    def encode(self, record: Record, topic: str | None = None) -> bytes:
        encoder = self._encoders.get(type(record)) or self._encoder(type(record))
        header, write = encoder
        if write is None:
            buf = BytesIO()
            buf.write(header)
            return write_body(buf, self._headers[type(record)][1], self._converter.to_avro(record))
        out = bytearray(header)
        write(out, record)
        return bytes(out)

    def _encoder(self, cls: type[Record]) -> tuple[bytes, Writer | None]:
        try:
            header, _ = self._headers[cls]
        except KeyError:
            raise TypeError(f"{cls.__name__} is not a registered record type") from None
        self._encoders[cls] = encoder = (header, self._compiler.compile_writer(cls))
        return encoder

    def decode(self, data: bytes, *, topic: str, partition: int, offset: int) -> Record:
        if len(data) < HEADER_LEN or data[:2] != MARKER:
            reason = "empty message" if not data else f"not Avro single-object encoded (starts {bytes(data[:2]).hex()})"
            raise MessageDecodeError(topic, partition, offset, reason)
        fingerprint = bytes(data[2:HEADER_LEN])
        entry = self._writers.get(fingerprint)
        if entry is None:
            reason = f"unknown schema fingerprint {fingerprint.hex()}"
            raise MessageDecodeError(topic, partition, offset, reason)
        read = self._readers[fingerprint] if fingerprint in self._readers else self._reader(fingerprint, entry)
        if read is None:
            return read_body(data, HEADER_LEN, entry, self._converter, topic=topic, partition=partition, offset=offset)
        try:
            record, end = read(data if type(data) is bytes else bytes(data), HEADER_LEN)
            if end != len(data):
                raise ValueError(f"{len(data) - end} trailing bytes after the {entry.cls.avro_name} body")
        except Exception as exc:  # IndexError (truncated), ValueError, UnicodeDecodeError, struct.error, ...
            reason = f"bad {entry.cls.avro_name} body: {type(exc).__name__}: {exc}"
            raise MessageDecodeError(topic, partition, offset, reason) from exc
        return record  # type: ignore[no-any-return]

    def _reader(self, fingerprint: bytes, entry: WriterEntry) -> Reader | None:
        """The generated reader if the writer schema is the current one (nothing to resolve)."""
        read = self._compiler.compile_reader(entry.cls) if entry.reader is None else None
        self._readers[fingerprint] = read
        return read


def make_codec(registry_url: str | None, *, baseline_dir: Path | None = BASELINE_DIR) -> Codec:
    """Confluent codec if a registry URL is given, else single-object encoding.

    The single-object codec also accepts data written with the baseline schemas, so
    messages from producers one schema version behind still decode during a rollout.
    """
    if registry_url:
        from .confluent import ConfluentCodec  # deferred: confluent.py imports this module
        from .registry_client import SchemaRegistryClient

        return ConfluentCodec(SchemaRegistryClient(registry_url))
    codec = SingleObjectCodec()
    if baseline_dir is not None and baseline_dir.is_dir():
        codec.add_writer_schemas(list(load_schema_set(baseline_dir).schemas.values()))
    return codec


def bench_codec(n: int = 20_000, codec: Codec | None = None) -> dict[str, float]:
    """Micro-benchmark (not a test): encode/decode rate for a fully populated JobSubmitted."""
    from .events import JobSubmitted
    from .samples import sample

    codec = codec or SingleObjectCodec()
    record = sample(JobSubmitted, 0)
    start = time.perf_counter()
    for _ in range(n):
        data = codec.encode(record, "bench")
    encoded = time.perf_counter() - start
    start = time.perf_counter()
    for i in range(n):
        codec.decode(data, topic="bench", partition=0, offset=i)
    decoded = time.perf_counter() - start
    return {"n": n, "bytes": len(data), "encode_per_s": n / encoded, "decode_per_s": n / decoded}

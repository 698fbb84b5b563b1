"""Confluent wire format: 0x00 | 4-byte big-endian schema id | Avro body.

Subjects follow TopicRecordNameStrategy (`<topic>-<record full name>`) because one
topic carries several record types.
"""

from __future__ import annotations

import json
from io import BytesIO
from typing import Any

from fastavro.schema import parse_schema

from .base import Record
from .catalog import CATALOG, Catalog
from .codec import WriterEntry, read_body, write_body, writer_entry
from .convert import CONVERTER, Converter
from .errors import MessageDecodeError, SchemaRegistryError
from .loader import standalone_schema
from .registry_client import SchemaRegistryClient

MAGIC = b"\x00"
HEADER_LEN = 5


def subject_for(topic: str, cls: type[Record]) -> str:
    """TopicRecordNameStrategy subject name."""
    return f"{topic}-{cls.avro_name}"


class ConfluentCodec:
    """Registry-backed codec; registry transport failures raise SchemaRegistryError (not poison)."""

    def __init__(self, client: SchemaRegistryClient, catalog: Catalog = CATALOG, converter: Converter = CONVERTER):
        self._client = client
        self._catalog = catalog
        self._converter = converter
        self._headers: dict[tuple[str, type[Record]], bytes] = {}
        self._writers: dict[int, WriterEntry] = {}

    def encode(self, record: Record, topic: str | None = None) -> bytes:
        if topic is None:
            raise ValueError("the Confluent wire format needs the topic (subject = <topic>-<record name>)")
        cls = type(record)
        header = self._headers.get((topic, cls)) or self._register(topic, cls)
        buf = BytesIO()
        buf.write(header)
        return write_body(buf, self._catalog.schema(cls).parsed, self._converter.to_avro(record))

    def decode(self, data: bytes, *, topic: str, partition: int, offset: int) -> Record:
        if len(data) < HEADER_LEN or data[:1] != MAGIC:
            reason = "empty message" if not data else f"not Confluent wire format (starts {bytes(data[:1]).hex()})"
            raise MessageDecodeError(topic, partition, offset, reason)
        schema_id = int.from_bytes(data[1:HEADER_LEN], "big")
        entry = self._writers.get(schema_id)
        if entry is None:
            try:
                entry = self._fetch(schema_id)
            except SchemaRegistryError:
                raise  # registry down: retry later, the message is not poison
            except Exception as exc:  # unknown id, unparsable or foreign schema
                raise MessageDecodeError(topic, partition, offset, f"schema id {schema_id}: {exc}") from exc
        return read_body(data, HEADER_LEN, entry, self._converter, topic=topic, partition=partition, offset=offset)

    def _register(self, topic: str, cls: type[Record]) -> bytes:
        if cls not in self._catalog.record_classes:
            raise TypeError(f"{cls.__name__} is not a registered record type")
        loaded = self._catalog.schema(cls)
        schema_id = self._client.register(subject_for(topic, cls), loaded.to_json())
        self._writers.setdefault(schema_id, writer_entry(loaded, self._catalog))
        header = MAGIC + schema_id.to_bytes(4, "big")
        self._headers[(topic, cls)] = header
        return header

    def _fetch(self, schema_id: int) -> WriterEntry:
        """Writer entry for an id seen on the wire but not registered by us."""
        schema_json = self._client.schema_by_id(schema_id)
        if schema_json is None:
            raise LookupError("unknown schema id")
        named: dict[str, Any] = {}
        loaded = standalone_schema(parse_schema(json.loads(schema_json), named), named, path=None)
        if loaded.name not in self._catalog.schemas.schemas:
            raise LookupError(f"{loaded.name} is not a known record type")
        entry = writer_entry(loaded, self._catalog)
        self._writers[schema_id] = entry
        return entry

"""The registry of record types: Avro full name <-> Python class <-> parsed schema."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Any

from . import (
    analytics,
    audit,
    commands,
    common,
    dispatch,
    events,
    keys,
    logs,
    results,
    secrets,
    state,
    templates,
    workers,
)
from .base import Record
from .loader import AVRO_DIR, LoadedSchema, SchemaSet, load_schema_set


class Catalog:
    """Pairs every record class with its .avsc; refuses to build if either side is missing."""

    def __init__(
        self,
        schemas: SchemaSet,
        records: Iterable[type[Record]],
        enums: Mapping[str, type[StrEnum]],
    ) -> None:
        self.schemas = schemas
        self._classes: dict[str, type[Record]] = {cls.avro_name: cls for cls in records}
        self._enums = dict(enums)
        self._by_fingerprint = {s.fingerprint: s for s in schemas.schemas.values()}
        self._check_complete()

    def _check_complete(self) -> None:
        record_schemas = {n for n, s in self.schemas.schemas.items() if s.standalone["type"] == "record"}
        enum_names = {n for n, s in self.schemas.named.items() if s["type"] == "enum"}
        problems = [f"no schema for class {n}" for n in self._classes.keys() - record_schemas]
        problems += [f"no class for schema {n}" for n in record_schemas - self._classes.keys()]
        problems += [f"enum class/schema mismatch: {n}" for n in enum_names ^ self._enums.keys()]
        if problems:
            raise LookupError("; ".join(sorted(problems)))

    @property
    def record_classes(self) -> tuple[type[Record], ...]:
        """Every registered record class (common types included)."""
        return tuple(self._classes.values())

    def record_class(self, name: str) -> type[Record]:
        """Class for an Avro full name; KeyError if unknown."""
        return self._classes[name]

    def enum_class(self, name: str) -> type[StrEnum]:
        """StrEnum class for an Avro enum full name; KeyError if unknown."""
        return self._enums[name]

    def schema(self, cls_or_name: type[Record] | str) -> LoadedSchema:
        """Loaded schema of a class or full name; KeyError if unknown."""
        name = cls_or_name if isinstance(cls_or_name, str) else cls_or_name.avro_name
        return self.schemas.schemas[name]

    def by_fingerprint(self, fp: bytes) -> LoadedSchema | None:
        """Schema with this CRC-64-AVRO fingerprint (8 bytes, little-endian), if any."""
        return self._by_fingerprint.get(fp)

    def named_type(self, name: str) -> Any:
        """fastavro-parsed definition of any named type (record or enum)."""
        return self.schemas.named[name]


RECORDS: tuple[type[Record], ...] = (*common.RECORDS, *commands.RECORDS, *events.RECORDS, *workers.RECORDS,
                                     *dispatch.RECORDS, *logs.RECORDS, *state.RECORDS, *results.RECORDS,
                                     *templates.RECORDS, *keys.RECORDS, *secrets.RECORDS,
                                     *audit.RECORDS, *analytics.RECORDS)
ENUMS: dict[str, type[StrEnum]] = {**common.ENUMS, **commands.ENUMS, **events.ENUMS, **state.ENUMS,
                                  **results.ENUMS, **templates.ENUMS}


def _default_catalog() -> Catalog:
    return Catalog(load_schema_set(AVRO_DIR), RECORDS, ENUMS)


CATALOG = _default_catalog()
"""The catalog of the schemas shipped in this package (built once, at import)."""


def record_class(name: str) -> type[Record]:
    """Class for an Avro full name, e.g. record_class("jobstream.events.JobFailed")."""
    return CATALOG.record_class(name)


def schema_for(cls_or_name: type[Record] | str) -> LoadedSchema:
    """Loaded schema (standalone JSON, parsed, canonical form, fingerprint) of a record."""
    return CATALOG.schema(cls_or_name)


def all_record_classes() -> tuple[type[Record], ...]:
    """Every record class, common types included."""
    return CATALOG.record_classes

"""Load a tree of .avsc files into fastavro schemas.

Common types are parsed first into one shared `named_schemas` dict so other files
can reference them by full name. Each file also gets a *standalone* form in which
every named type it uses is defined inline exactly once (at first use): that is
what other Avro implementations, the Parsing Canonical Form, the fingerprint and a
Confluent registry need, since none of them know our shared dict.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastavro.schema import (
    UnknownType,
    fingerprint,
    parse_schema,
    to_parsing_canonical_form,
)

AVRO_DIR = Path(__file__).parent / "avro"
BASELINE_DIR = Path(__file__).parent / "baseline"
FIRST_FOLDER = "common"  # shared named types, parsed before everything else
NAMED_KINDS = frozenset({"record", "enum", "fixed", "error"})


@dataclass(frozen=True, slots=True)
class LoadedSchema:
    """One .avsc file in all the forms callers need."""

    name: str  # full name, e.g. "jobstream.events.JobSubmitted"
    path: Path | None  # None when the schema did not come from a file (e.g. a registry)
    standalone: dict[str, Any]  # self-contained JSON (no fastavro internals)
    parsed: Any  # fastavro-parsed standalone schema, ready for readers/writers
    named_types: dict[str, Any]  # named types defined in `parsed`, by full name
    canonical: str  # Parsing Canonical Form
    fingerprint: bytes  # CRC-64-AVRO of `canonical`, 8 bytes little-endian

    def to_json(self) -> str:
        """Compact standalone JSON, e.g. for a schema registry."""
        return json.dumps(self.standalone, separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class SchemaSet:
    """Every schema of one .avsc tree, by full name."""

    root: Path
    schemas: dict[str, LoadedSchema]
    named: dict[str, Any]  # shared fastavro named_schemas of all named types


def crc64_avro(canonical: str) -> bytes:
    """CRC-64-AVRO (Rabin) fingerprint in wire order (little-endian), per the Avro spec."""
    # fastavro returns the hex of the little-endian bytes (checked against the spec vectors).
    return bytes.fromhex(fingerprint(canonical, "CRC-64-AVRO"))


def avsc_files(root: Path) -> list[Path]:
    """All .avsc files under root, common/ first, then by path for determinism."""
    files = sorted(root.rglob("*.avsc"))
    return sorted(files, key=lambda p: p.relative_to(root).parts[0] != FIRST_FOLDER)


def load_schema_set(root: Path | str = AVRO_DIR) -> SchemaSet:
    """Parse every .avsc under root; raise SchemaParseException/UnknownType on bad input."""
    root = Path(root)
    named: dict[str, Any] = {}
    parsed_files = _parse_in_dependency_order(avsc_files(root), named)
    schemas: dict[str, LoadedSchema] = {}
    for path, parsed in parsed_files:
        loaded = standalone_schema(parsed, named, path)
        if loaded.name in schemas:
            raise ValueError(f"{loaded.name} defined twice: {schemas[loaded.name].path}, {path}")
        schemas[loaded.name] = loaded
    return SchemaSet(root=root, schemas=schemas, named=named)


def _parse_in_dependency_order(files: list[Path], named: dict[str, Any]) -> list[tuple[Path, Any]]:
    """Parse files into `named`, deferring any that reference a type not yet defined."""
    pending = [(path, json.loads(path.read_text())) for path in files]
    done: list[tuple[Path, Any]] = []
    while pending:
        deferred: list[tuple[Path, Any]] = []
        errors: list[str] = []
        for path, raw in pending:
            try:  # trial-parse on a copy so a failed attempt leaves no half-defined names
                parse_schema(raw, dict(named))
            except UnknownType as exc:
                deferred.append((path, raw))
                errors.append(f"{path}: unknown type {exc.name}")
                continue
            done.append((path, parse_schema(raw, named)))
        if len(deferred) == len(pending):
            raise UnknownType("; ".join(errors))
        pending = deferred
    return done


def standalone_schema(parsed: Any, named: dict[str, Any], path: Path | None) -> LoadedSchema:
    """Inline the named types `parsed` references and compute its canonical form."""
    standalone = _inline(parsed, named, set())
    canonical = to_parsing_canonical_form(standalone)
    own_named: dict[str, Any] = {}
    return LoadedSchema(
        name=standalone["name"],
        path=path,
        standalone=standalone,
        parsed=parse_schema(standalone, own_named),
        named_types=own_named,
        canonical=canonical,
        fingerprint=crc64_avro(canonical),
    )


def _inline(node: Any, named: dict[str, Any], defined: set[str]) -> Any:
    """Copy a parsed schema, defining each named type at its first use only."""
    if isinstance(node, str):
        if node in named and node not in defined:
            return _inline(named[node], named, defined)
        return node
    if isinstance(node, list):
        return [_inline(item, named, defined) for item in node]
    if isinstance(node, dict):
        kind = node.get("type")
        if isinstance(kind, str) and kind in NAMED_KINDS:  # a definition, not a field
            defined.add(node["name"])
        return {k: _inline_value(k, v, named, defined) for k, v in node.items() if not k.startswith("__")}
    return node


def _inline_value(key: str, value: Any, named: dict[str, Any], defined: set[str]) -> Any:
    """Only type positions may hold references; docs, defaults and symbols are data."""
    if key in ("type", "items", "values", "fields"):
        return _inline(value, named, defined)
    return value

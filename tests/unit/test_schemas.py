"""The .avsc files: they load, are documented, follow the layout rules, and fingerprint per spec."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import pytest
from fastavro.schema import parse_schema, to_parsing_canonical_form

from jobstream.schemas import AVRO_DIR, CATALOG, Catalog, catalog, events, load_schema_set, schema_for
from jobstream.schemas.loader import crc64_avro

FILES = sorted(AVRO_DIR.rglob("*.avsc"))
ENVELOPES = {
    "commands": "jobstream.common.CommandEnvelope",
    "events": "jobstream.common.Envelope",
    "workers": "jobstream.common.WorkerEnvelope",
}


def _folder(path: Path) -> str:
    return path.relative_to(AVRO_DIR).parts[0]


def _named_definitions(node: Any) -> list[dict[str, Any]]:
    """Every record/enum definition in a raw schema, however deeply nested."""
    found: list[dict[str, Any]] = []
    if isinstance(node, list):
        for item in node:
            found += _named_definitions(item)
    elif isinstance(node, dict):
        if node.get("type") in ("record", "enum", "fixed"):
            found.append(node)
        for key in ("type", "items", "values"):
            if key in node:
                found += _named_definitions(node[key])
        for f in node.get("fields", ()):
            found += _named_definitions(f["type"])
    return found


def _fields(node: Any) -> list[dict[str, Any]]:
    return [f for d in _named_definitions(node) for f in d.get("fields", ())]


def test_every_schema_loads_and_counts_match_the_contract() -> None:
    schemas = load_schema_set(AVRO_DIR).schemas
    by_folder: dict[str, int] = {}
    for path in FILES:
        by_folder[_folder(path)] = by_folder.get(_folder(path), 0) + 1
    assert set(by_folder) == {"common", "commands", "events", "workers", "dispatch", "logs", "state", "results",
                              "templates", "keys", "secrets", "audit", "analytics"}
    assert len(schemas) == len(FILES) == len(list(AVRO_DIR.rglob("*.avsc")))


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_file_name_and_namespace_follow_the_layout(path: Path) -> None:
    raw = json.loads(path.read_text())
    assert raw["name"] == path.stem
    assert raw["namespace"] == f"jobstream.{_folder(path)}"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_every_named_type_and_field_has_a_doc(path: Path) -> None:
    raw = json.loads(path.read_text())
    definitions = _named_definitions(raw)
    assert definitions, "no named type found"
    undocumented = [d["name"] for d in definitions if not str(d.get("doc", "")).strip()]
    undocumented += [f["name"] for f in _fields(raw) if not str(f.get("doc", "")).strip()]
    assert not undocumented, f"{path.name}: missing doc on {undocumented}"


@pytest.mark.parametrize("path", [p for p in FILES if _folder(p) in ENVELOPES], ids=lambda p: p.stem)
def test_messages_start_with_their_envelope(path: Path) -> None:
    first = json.loads(path.read_text())["fields"][0]
    assert first["name"] == "envelope"
    assert first["type"] == ENVELOPES[_folder(path)]


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_optionals_and_collections_have_defaults(path: Path) -> None:
    for f in _fields(json.loads(path.read_text())):
        t = f["type"]
        if isinstance(t, list) and "null" in t:
            assert t[0] == "null" and "default" in f and f["default"] is None, f["name"]
        if isinstance(t, dict) and t["type"] == "map":
            assert f.get("default") == {}, f["name"]
        if isinstance(t, dict) and t["type"] == "array":
            assert f.get("default") == [], f["name"]


def test_all_timestamps_are_timestamp_micros_longs() -> None:
    logical = [t for path in FILES for t in _logical_types(json.loads(path.read_text()))]
    assert logical and all(t == {"type": "long", "logicalType": "timestamp-micros"} for t in logical)


def _logical_types(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, list):
        return [t for item in node for t in _logical_types(item)]
    if not isinstance(node, dict):
        return []
    own = [node] if "logicalType" in node else []
    children = [node[k] for k in ("type", "items", "values") if k in node and not isinstance(node[k], str)]
    children += [f["type"] for f in node.get("fields", ())]
    return own + [t for c in children for t in _logical_types(c)]


@pytest.mark.parametrize("name", sorted(CATALOG.schemas.schemas))
def test_standalone_form_defines_each_named_type_exactly_once(name: str) -> None:
    loaded = schema_for(name)
    names = [d["name"] for d in _named_definitions(loaded.standalone)]
    assert len(names) == len(set(names)), names
    # It must parse on its own, with no shared named_schemas: that is what other languages see.
    parse_schema(json.loads(loaded.to_json()), {})


# Avro spec test vectors (apache/avro share/test/data/schema-tests.txt): CRC-64-AVRO as signed longs.
VECTORS = [
    ('"null"', 7195948357588979594),
    ('"int"', 8247732601305521295),
    ('"long"', -3434872931120570953),
    ('{"fields":[], "type":"record", "name":"foo", "namespace":"x.y"}', 5916914534497305771),
    ('{"namespace":"x.y.z", "type":"enum", "name":"foo", "doc":"foo bar", "symbols":["A1", "A2"]}',
     -4448647247586288245),
]


@pytest.mark.parametrize(("schema", "expected"), VECTORS)
def test_fingerprint_matches_the_avro_spec_vectors(schema: str, expected: int) -> None:
    canonical = to_parsing_canonical_form(parse_schema(json.loads(schema)))
    # Single-object encoding writes the fingerprint little-endian.
    assert crc64_avro(canonical) == struct.pack("<q", expected)


def test_loaded_fingerprint_is_of_the_canonical_form() -> None:
    loaded = schema_for("jobstream.events.JobSubmitted")
    assert len(loaded.fingerprint) == 8
    assert loaded.fingerprint == crc64_avro(loaded.canonical)
    assert '"doc"' not in loaded.canonical and '"jobstream.common.JobSpec"' in loaded.canonical


def test_catalog_refuses_a_schema_without_class() -> None:
    records, enums = list(catalog.RECORDS), catalog.ENUMS
    Catalog(CATALOG.schemas, records, enums)  # complete: fine
    with pytest.raises(LookupError, match="no class for schema jobstream.events.JobPaused"):
        Catalog(CATALOG.schemas, [c for c in records if c is not events.JobPaused], enums)
    with pytest.raises(LookupError, match="SkipReason"):
        Catalog(CATALOG.schemas, records, {k: v for k, v in enums.items() if not k.endswith(".SkipReason")})


def test_unknown_reference_is_reported(tmp_path: Path) -> None:
    (tmp_path / "events").mkdir()
    bad = {"type": "record", "name": "X", "namespace": "jobstream.events", "doc": "d",
           "fields": [{"name": "a", "type": "jobstream.common.Nope", "doc": "d"}]}
    (tmp_path / "events" / "X.avsc").write_text(json.dumps(bad))
    with pytest.raises(ValueError, match="jobstream.common.Nope"):
        load_schema_set(tmp_path)

"""`jobstream schemas export`: each exported file, read alone by fastavro, writes messages the
processors' codec decodes, under the fingerprint fingerprints.json gives it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path

import fastavro
from fastavro.schema import fingerprint, to_parsing_canonical_form

from jobstream.schemas import SubmitJob, make_codec
from jobstream.schemas.catalog import CATALOG
from jobstream.schemas.export import FINGERPRINTS, export_schemas


def test_every_record_is_exported_alone_with_its_fingerprint(tmp_path: Path) -> None:
    written = export_schemas(tmp_path)
    fingerprints = json.loads((tmp_path / FINGERPRINTS).read_text())

    records = {cls.avro_name for cls in CATALOG.record_classes}
    assert set(fingerprints) == records and fingerprints == written
    for name, hex_fp in fingerprints.items():
        schema = fastavro.parse_schema(json.loads((tmp_path / f"{name}.avsc").read_text()), {})  # no shared names
        assert fingerprint(to_parsing_canonical_form(schema), "CRC-64-AVRO") == hex_fp, name


def test_a_command_written_with_the_exported_schema_decodes(tmp_path: Path) -> None:
    export_schemas(tmp_path)
    name = SubmitJob.avro_name
    schema = fastavro.parse_schema(json.loads((tmp_path / f"{name}.avsc").read_text()), {})
    header = b"\xc3\x01" + bytes.fromhex(json.loads((tmp_path / FINGERPRINTS).read_text())[name])
    body = BytesIO()
    fastavro.schemaless_writer(body, schema, {
        "envelope": {"command_id": "c1", "job_id": "j1", "type": "SubmitJob",
                     "issued_at": datetime(2026, 1, 2, tzinfo=UTC), "actor": "svc"},
        "spec": {"name": "n", "task": ("jobstream.common.ShellTask", {"argv": ["true"]})}})

    command = make_codec(None).decode(header + body.getvalue(), topic="t", partition=0, offset=0)

    assert isinstance(command, SubmitJob)
    assert (command.envelope.command_id, command.envelope.job_id) == ("c1", "j1")
    assert list(command.spec.task.argv) == ["true"]

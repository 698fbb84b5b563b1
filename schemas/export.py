"""The schemas as the processors accept them, for producers in other services and languages.

One `.avsc` per record, fully resolved (every named type it uses defined inline, the standalone
form the fingerprint is computed over), and `fingerprints.json` mapping each record's full name
to its CRC-64-AVRO fingerprint in wire order (hex): a single-object encoded message is
`C3 01` + those 8 bytes + the Avro body.
"""

from __future__ import annotations

import json
from pathlib import Path

from .catalog import CATALOG, Catalog

FINGERPRINTS = "fingerprints.json"


def export_schemas(directory: Path, catalog: Catalog = CATALOG) -> dict[str, str]:
    """Write every record schema and the fingerprints file into `directory`; returns name -> fingerprint hex."""
    directory.mkdir(parents=True, exist_ok=True)
    fingerprints: dict[str, str] = {}
    for name, loaded in sorted(catalog.schemas.schemas.items()):
        if loaded.standalone["type"] != "record":
            continue
        (directory / f"{name}.avsc").write_text(json.dumps(loaded.standalone, indent=2) + "\n")
        fingerprints[name] = loaded.fingerprint.hex()
    (directory / FINGERPRINTS).write_text(json.dumps(fingerprints, indent=2) + "\n")
    return fingerprints

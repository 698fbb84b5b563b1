"""``make golden-wire RECORDS='jobstream.workers.WorkerHeartbeat ...'``: record the golden wire bytes
(``golden/wire_v1.json``) of the named records again, after a deliberate change of their schema.

Only those records' samples and digests are rewritten, so ``git diff`` shows exactly which bytes
moved; every other record keeps testing that its bytes never change.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

from jobstream.schemas import SingleObjectCodec, record_class, sample

WIRE = Path(__file__).parent / "golden" / "wire_v1.json"


def rerecord(avro_names: list[str], path: Path = WIRE) -> None:
    golden = json.loads(path.read_text())
    codec = SingleObjectCodec()
    for avro_name in avro_names:
        cls = record_class(avro_name)
        digest = hashlib.sha256()
        for variant in range(golden["variant_count"]):
            data = codec.encode(sample(cls, variant))
            digest.update(data)
            if f"{avro_name}/{variant}" in golden["samples"]:
                golden["samples"][f"{avro_name}/{variant}"] = data.hex()
        golden["variants_sha256"][avro_name] = digest.hexdigest()
    path.write_text(json.dumps(golden, indent=1) + "\n")


if __name__ == "__main__":
    rerecord(sys.argv[1:])

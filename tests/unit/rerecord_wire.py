"""``make golden-wire RECORDS='jobstream.workers.WorkerHeartbeat ...'``: record the golden wire bytes
(``golden/wire_v1.json``) of the named records again, after a deliberate change of their schema.

Only those records' samples and digests are rewritten, so ``git diff`` shows exactly which bytes
moved; every other record keeps testing that its bytes never change. ``pipeline`` among the names
records the recorded decisions' bytes again (the command as decoded then written, the events and
side effects it causes at the recorded time); the stored states stay as recorded, so a state
written before the change must still restore.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

from jobstream.core.decide import decide
from jobstream.core.state import JobState, evolve
from jobstream.infra.topics import Topics
from jobstream.schemas import Codec, Command, SingleObjectCodec, make_codec, record_class, sample
from jobstream.streams.side_effects import messages

WIRE = Path(__file__).parent / "golden" / "wire_v1.json"


def rerecord(avro_names: list[str], path: Path = WIRE) -> None:
    golden = json.loads(path.read_text())
    codec = SingleObjectCodec()
    for avro_name in avro_names:
        if avro_name == "pipeline":
            reader = make_codec(None)  # the recorded bytes may be of a schema before the change: the baseline's
            recorded = [bytes.fromhex(entry[0]) for entry in golden["pipeline"]]
            golden["pipeline"] = [_decided_again(reader, codec, command) for command in recorded]
            continue
        cls = record_class(avro_name)
        digest = hashlib.sha256()
        for variant in range(golden["variant_count"]):
            data = codec.encode(sample(cls, variant))
            digest.update(data)
            if f"{avro_name}/{variant}" in golden["samples"]:
                golden["samples"][f"{avro_name}/{variant}"] = data.hex()
        golden["variants_sha256"][avro_name] = digest.hexdigest()
    path.write_text(json.dumps(golden, indent=1) + "\n")


def _decided_again(reader: Codec, codec: SingleObjectCodec, command_bytes: bytes) -> list[str]:
    from tests.unit.test_codec_golden import NOW  # the time the decisions were recorded at

    command = reader.decode(command_bytes, topic="t", partition=0, offset=0)
    assert isinstance(command, Command)
    before = JobState(command.envelope.job_id)
    events = decide(before, command, NOW)
    after = before
    for event in events:
        after = evolve(after, event)
    written = [codec.encode(command), *(codec.encode(e) for e in events)]
    written += [codec.encode(record) for _, _, record in messages(Topics("bench"), before, after, events)]
    return [data.hex() for data in written]


if __name__ == "__main__":
    rerecord(sys.argv[1:])

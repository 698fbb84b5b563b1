"""The bytes on the wire do not change: golden messages recorded with the codec as it was before
its hot path was compiled (``golden/wire_v1.json``), compared byte for byte.

The file holds two variants of every record's sample in hex, a SHA-256 over every variant of
each record (records added since have no golden bytes: test_codec_compiled.py holds them to
fastavro), and a few realistic decisions (a SubmitJob's bytes, then its events, its JobReady
and the job state after it on the changelog) as the state processor produced them. After a
deliberate change of a record's schema, ``make golden-wire RECORDS=<avro name>`` records its bytes again.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from jobstream.core.decide import decide
from jobstream.core.state import JobState, evolve
from jobstream.infra.topics import Topics
from jobstream.schemas import Command, SingleObjectCodec, record_class, sample
from jobstream.streams.side_effects import messages
from jobstream.streams.state_serde import StateSerde

GOLDEN: dict[str, Any] = json.loads((Path(__file__).parent / "golden" / "wire_v1.json").read_text())
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)  # the time the recorded decisions were taken at
WHERE = {"topic": "t", "partition": 0, "offset": 0}


@pytest.fixture(scope="module")
def codec() -> SingleObjectCodec:
    return SingleObjectCodec()


@pytest.mark.parametrize("avro_name", sorted(GOLDEN["variants_sha256"]))
def test_every_variant_of_every_record_encodes_as_before(codec: SingleObjectCodec, avro_name: str) -> None:
    cls = record_class(avro_name)
    digest = hashlib.sha256()
    for variant in range(GOLDEN["variant_count"]):
        data = codec.encode(sample(cls, variant))
        digest.update(data)
        expected = GOLDEN["samples"].get(f"{avro_name}/{variant}")
        assert expected is None or data.hex() == expected, variant
    assert digest.hexdigest() == GOLDEN["variants_sha256"][avro_name]


@pytest.mark.parametrize("name", sorted(GOLDEN["samples"]))
def test_golden_bytes_decode_to_the_sample(codec: SingleObjectCodec, name: str) -> None:
    avro_name, variant = name.rsplit("/", 1)
    cls = record_class(avro_name)
    assert codec.decode(bytes.fromhex(GOLDEN["samples"][name]), **WHERE) == sample(cls, int(variant))


@pytest.mark.parametrize("index", range(len(GOLDEN["pipeline"])))
def test_a_recorded_decision_is_taken_and_written_as_before(codec: SingleObjectCodec, index: int) -> None:
    command_bytes, *expected = (bytes.fromhex(h) for h in GOLDEN["pipeline"][index])
    command = codec.decode(command_bytes, **WHERE)
    assert isinstance(command, Command) and codec.encode(command) == command_bytes
    before = JobState(command.envelope.job_id)
    events = decide(before, command, NOW)
    after = before
    for event in events:
        after = evolve(after, event)
    written = [codec.encode(e) for e in events]
    written += [codec.encode(record) for _, _, record in messages(Topics("bench"), before, after, events)]
    assert written == expected
    serde = StateSerde()
    assert serde.decode(bytes.fromhex(GOLDEN["states"][index])) == after  # a state stored before restores
    assert serde.decode(serde.encode(after)) == after

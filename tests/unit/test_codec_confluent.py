"""Confluent wire format against an in-process stub schema registry (unit test of our bytes)."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest

from jobstream import schemas as js
from jobstream.schemas import ConfluentCodec, MessageDecodeError, SchemaRegistryClient, SchemaRegistryError, sample
from jobstream.schemas.samples import variant_count
from tests.stub_registry import StubRegistry, serving

WHERE = {"topic": "jobstream.events", "partition": 0, "offset": 7}


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[list[StubRegistry], str]]:
    with serving() as served:
        yield served


@pytest.fixture()
def registry(server: tuple[list[StubRegistry], str]) -> tuple[StubRegistry, str]:
    current, url = server
    current[0] = StubRegistry()
    return current[0], url


def _codec(url: str) -> ConfluentCodec:
    return ConfluentCodec(SchemaRegistryClient(url))


def test_every_record_round_trips(registry: tuple[StubRegistry, str]) -> None:
    stub, url = registry
    codec = _codec(url)
    for cls in js.all_record_classes():
        for variant in range(0, variant_count(), 3):
            record = sample(cls, variant)
            assert codec.decode(codec.encode(record, "jobstream.events"), **WHERE) == record
    assert len(stub.subjects) == len(js.all_record_classes())


def test_wire_layout_and_subject_naming(registry: tuple[StubRegistry, str]) -> None:
    stub, url = registry
    data = _codec(url).encode(sample(js.JobFailed), "jobstream.job-events")
    schema_id = stub.subjects["jobstream.job-events-jobstream.events.JobFailed"][0]
    assert data[0] == 0 and data[1:5] == schema_id.to_bytes(4, "big")
    registered = json.loads(stub.schema(schema_id) or "")
    assert registered["name"] == "jobstream.events.JobFailed"
    assert registered["fields"][0]["type"]["name"] == "jobstream.common.Envelope"  # self-contained


def test_registration_and_lookup_are_cached(registry: tuple[StubRegistry, str]) -> None:
    stub, url = registry
    producer = _codec(url)
    records = [sample(js.JobQueued, v) for v in range(5)]
    encoded = [producer.encode(r, "t1") for r in records]
    assert [m for m, _ in stub.requests] == ["POST"]
    producer.encode(records[0], "t2")  # new topic -> new subject, same schema id
    assert [m for m, _ in stub.requests] == ["POST", "POST"]
    assert stub.subjects["t1-jobstream.events.JobQueued"] == stub.subjects["t2-jobstream.events.JobQueued"]

    consumer = _codec(url)  # cold cache: must look the id up once
    assert [consumer.decode(d, **WHERE) for d in encoded] == records
    assert [m for m, _ in stub.requests] == ["POST", "POST", "GET"]


def test_encode_needs_a_topic(registry: tuple[StubRegistry, str]) -> None:
    with pytest.raises(ValueError, match="topic"):
        _codec(registry[1]).encode(sample(js.JobPaused))


def _decode_error(codec: ConfluentCodec, data: bytes) -> MessageDecodeError:
    with pytest.raises(MessageDecodeError) as info:
        codec.decode(data, **WHERE)
    assert (info.value.topic, info.value.partition, info.value.offset) == ("jobstream.events", 0, 7)
    assert "offset=7" in str(info.value)
    return info.value


def test_decode_errors_are_typed(registry: tuple[StubRegistry, str]) -> None:
    codec = _codec(registry[1])
    data = codec.encode(sample(js.ReportFinished), "t")
    assert "empty" in _decode_error(codec, b"").reason
    assert "Confluent" in _decode_error(codec, b"\x01" + data[1:]).reason
    assert "Confluent" in _decode_error(codec, data[:3]).reason
    assert "unknown schema id" in _decode_error(codec, b"\x00\x00\x00\x03\xe7" + data[5:]).reason
    assert "ReportFinished" in _decode_error(codec, data[:-2]).reason
    assert "trailing" in _decode_error(codec, data + b"\x00").reason


def test_foreign_record_type_is_a_decode_error(registry: tuple[StubRegistry, str]) -> None:
    stub, url = registry
    foreign = json.dumps({"type": "record", "name": "other.Thing", "fields": [{"name": "a", "type": "int"}]})
    schema_id = stub.register("t-other.Thing", foreign)
    err = _decode_error(_codec(url), b"\x00" + schema_id.to_bytes(4, "big") + b"\x02")
    assert "other.Thing" in err.reason


def test_registry_failures_are_not_poison(registry: tuple[StubRegistry, str]) -> None:
    stub, url = registry
    stub.fail_with = 500
    with pytest.raises(SchemaRegistryError, match="HTTP 500"):
        _codec(url).encode(sample(js.JobPaused), "t")
    with socket.socket() as probe:  # a port with nothing listening
        probe.bind(("127.0.0.1", 0))
        dead_url = f"http://127.0.0.1:{probe.getsockname()[1]}"
    with pytest.raises(SchemaRegistryError):
        _codec(dead_url).decode(b"\x00\x00\x00\x00\x01\x00", **WHERE)

"""The generated readers and writers (schemas/binary.py) agree with fastavro's generic path: same
bytes out, same records in, and they read what other Avro writers may write."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from io import BytesIO
from typing import Any

import pytest
from fastavro import schemaless_reader

from jobstream import schemas as js
from jobstream.schemas import Record, SingleObjectCodec, all_record_classes, sample, schema_for
from jobstream.schemas.binary import BinaryCompiler, encode_long, read_long
from jobstream.schemas.catalog import CATALOG
from jobstream.schemas.codec import HEADER_LEN, write_body
from jobstream.schemas.convert import CONVERTER
from jobstream.schemas.samples import variant_count

WHERE = {"topic": "t", "partition": 0, "offset": 0}


def generic_encode(record: Record) -> bytes:
    loaded = schema_for(type(record))
    buf = BytesIO()
    buf.write(b"\xc3\x01" + loaded.fingerprint)
    return write_body(buf, loaded.parsed, CONVERTER.to_avro(record))


def generic_decode(cls: type[Record], data: bytes) -> Record:
    buf = BytesIO(data)
    buf.seek(HEADER_LEN)
    datum: Any = schemaless_reader(buf, schema_for(cls).parsed, None, return_record_name=True,
                                   return_record_name_override=True)
    return CONVERTER.from_avro(cls, datum)


@pytest.fixture(scope="module")
def codec() -> SingleObjectCodec:
    return SingleObjectCodec()


@pytest.mark.parametrize("cls", all_record_classes(), ids=lambda c: c.__name__)
def test_every_record_is_compiled_and_agrees_with_fastavro(codec: SingleObjectCodec, cls: type[Record]) -> None:
    compiler = BinaryCompiler(CATALOG)
    assert compiler.compile_writer(cls) is not None and compiler.compile_reader(cls) is not None
    for variant in range(variant_count()):
        record = sample(cls, variant)
        data = codec.encode(record)
        assert data == generic_encode(record), variant
        decoded = codec.decode(data, **WHERE)
        assert decoded == generic_decode(cls, data) == record
        assert type(decoded) is cls


def test_varints_round_trip_at_every_width() -> None:
    for n in [0, 1, -1, 63, -64, 64, -65, 8191, -8192, 8192, -8193, 2**31, -(2**31), 2**63 - 1, -(2**63)]:
        data = encode_long(n)
        assert read_long(data, 0) == (n, len(data))
    with pytest.raises(OverflowError):
        encode_long(2**63)
    assert read_long(b"\x80\x00", 0) == (0, 2)  # a longer than needed varint is still valid Avro


def test_arrays_and_maps_in_several_blocks_and_sized_blocks_are_read(codec: SingleObjectCodec) -> None:
    """Java's writer may split arrays into blocks, with a negative count followed by a byte size."""
    envelope = sample(js.CommandEnvelope)
    task = js.ShellTask(argv=["a", "b", "c"], env={"K": "v", "L": "w"})
    spec = js.JobSpec(name="n", task=task)
    record = js.SubmitJob(envelope=envelope, spec=spec)
    data = codec.encode(record)
    argv_one_block = b"\x06\x02a\x02b\x02c\x00"
    assert argv_one_block in data
    blocked = b"\x02\x02a" + b"\x03\x08\x02b\x02c" + b"\x00"  # 1 item, then 2 items sized 4 bytes
    assert codec.decode(data.replace(argv_one_block, blocked), **WHERE) == record


@pytest.mark.parametrize("cut", [11, 20, 40, -1])
def test_truncated_messages_are_decode_errors(codec: SingleObjectCodec, cut: int) -> None:
    data = codec.encode(sample(js.SubmitJob))
    with pytest.raises(js.MessageDecodeError, match="SubmitJob"):
        codec.decode(data[:cut], **WHERE)


def test_bad_values_are_refused_as_before(codec: SingleObjectCodec) -> None:
    envelope = sample(js.Envelope)
    naive = dataclasses.replace(sample(js.JobCancelled), envelope=dataclasses.replace(
        envelope, occurred_at=datetime(2026, 1, 1)))
    with pytest.raises(ValueError, match="naive datetime"):
        codec.encode(naive)
    no_argv = js.ShellTask(argv=None)  # type: ignore[arg-type]
    with pytest.raises(TypeError):  # not silently an empty array
        codec.encode(dataclasses.replace(sample(js.SubmitJob), spec=js.JobSpec(name="n", task=no_argv)))


def test_a_spec_is_written_once_per_object_and_again_for_another(codec: SingleObjectCodec) -> None:
    spec = sample(js.JobSpec)
    submitted = dataclasses.replace(sample(js.JobSubmitted), spec=spec)
    assert codec.encode(submitted) == codec.encode(submitted) == generic_encode(submitted)
    other = dataclasses.replace(spec, name="another")
    assert codec.encode(dataclasses.replace(submitted, spec=other)) == generic_encode(
        dataclasses.replace(submitted, spec=other))
    for n in range(200):  # more specs than the memo holds: still right
        fresh = dataclasses.replace(spec, priority=1 + n % 10)
        assert codec.encode(dataclasses.replace(submitted, spec=fresh)) == generic_encode(
            dataclasses.replace(submitted, spec=fresh))

"""Avro single-object encoding: round trips, header layout, typed decode errors, evolution."""

from __future__ import annotations

import dataclasses
import json
import pickle
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastavro.schema import parse_schema
from hypothesis import given, settings
from hypothesis import strategies as st

from jobstream import schemas as js
from jobstream.schemas import (
    MessageDecodeError,
    PoisonMessage,
    Record,
    SingleObjectCodec,
    all_record_classes,
    bench_codec,
    make_codec,
    sample,
    schema_for,
)
from jobstream.schemas.loader import standalone_schema
from jobstream.schemas.samples import variant_count

CLASSES = all_record_classes()
WHERE = {"topic": "jobstream.events", "partition": 3, "offset": 12345}


@pytest.fixture(scope="module")
def codec() -> SingleObjectCodec:
    return SingleObjectCodec()


def _decode_error(codec: js.Codec, data: bytes) -> MessageDecodeError:
    with pytest.raises(MessageDecodeError) as info:
        codec.decode(data, **WHERE)
    err = info.value
    assert (err.topic, err.partition, err.offset) == ("jobstream.events", 3, 12345)
    assert "jobstream.events" in str(err) and "partition=3" in str(err) and "offset=12345" in str(err)
    return err


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_every_record_round_trips(codec: SingleObjectCodec, cls: type[Record]) -> None:
    for variant in range(variant_count()):
        record = sample(cls, variant)
        decoded = codec.decode(codec.encode(record), **WHERE)
        assert type(decoded) is cls
        assert decoded == record


def test_header_is_marker_then_little_endian_fingerprint(codec: SingleObjectCodec) -> None:
    data = codec.encode(sample(js.JobSubmitted))
    assert data[:2] == b"\xc3\x01"
    assert data[2:10] == schema_for(js.JobSubmitted).fingerprint
    assert codec.encode(sample(js.JobCancelled))[2:10] != data[2:10]


def test_decoded_datetimes_are_aware_utc(codec: SingleObjectCodec) -> None:
    decoded = codec.decode(codec.encode(sample(js.JobScheduled)), **WHERE)
    assert isinstance(decoded, js.JobScheduled)
    assert decoded.next_run_at.utcoffset() == timedelta(0)


def test_empty_message(codec: SingleObjectCodec) -> None:
    assert "empty" in _decode_error(codec, b"").reason


def test_wrong_marker(codec: SingleObjectCodec) -> None:
    good = codec.encode(sample(js.JobPaused))
    assert "single-object" in _decode_error(codec, b"\x00\x01" + good[2:]).reason
    assert "single-object" in _decode_error(codec, b"\xc3").reason  # shorter than a header


def test_unknown_fingerprint(codec: SingleObjectCodec) -> None:
    good = codec.encode(sample(js.JobPaused))
    err = _decode_error(codec, good[:2] + b"\x00" * 8 + good[10:])
    assert "unknown schema fingerprint 0000000000000000" in err.reason


@pytest.mark.parametrize("cls", [js.JobSubmitted, js.ReportFinished, js.WorkerRegistered, js.JobCancelled])
def test_truncated_body(codec: SingleObjectCodec, cls: type[Record]) -> None:
    data = codec.encode(sample(cls))
    for cut in (len(data) - 1, len(data) // 2, 11):
        err = _decode_error(codec, data[:cut])
        assert cls.avro_name in err.reason


def test_trailing_and_garbage_bytes(codec: SingleObjectCodec) -> None:
    data = codec.encode(sample(js.JobCancelled))
    assert "trailing" in _decode_error(codec, data + b"\x00").reason
    _decode_error(codec, data[:10] + b"\xff" * 40)  # overlong varints / negative lengths


def test_invalid_enum_index_is_a_decode_error(codec: SingleObjectCodec) -> None:
    record = sample(js.ScheduleSkipped)
    data = codec.encode(record)
    # The enum index is the body's last varint: 0x7e is zigzag 63, far beyond 4 symbols.
    _decode_error(codec, data[:-1] + b"\x7e")


def test_older_writer_schema_resolves_to_current(codec: SingleObjectCodec) -> None:
    """A producer on an older schema (JobCancelled without `reason`) still decodes, with defaults."""
    current = schema_for(js.CancelJob)
    older_json = json.loads(current.to_json())
    older_json["fields"] = [f for f in older_json["fields"] if f["name"] != "reason"]
    named: dict[str, Any] = {}
    older = standalone_schema(parse_schema(older_json, named), named, None)
    fresh = SingleObjectCodec()
    old_bytes = _encode_with(older, sample(js.CancelJob))
    _decode_error(fresh, old_bytes)  # not known yet: unknown fingerprint
    fresh.add_writer_schemas([older])
    decoded = fresh.decode(old_bytes, **WHERE)
    assert decoded == dataclasses.replace(sample(js.CancelJob), reason="cancelled by user")


def _encode_with(loaded: js.LoadedSchema, record: js.CancelJob) -> bytes:
    from io import BytesIO

    from fastavro import schemaless_writer

    datum = js.to_avro(record)
    del datum["reason"]
    buf = BytesIO(b"\xc3\x01" + loaded.fingerprint)
    buf.seek(10)
    schemaless_writer(buf, loaded.parsed, datum)
    return buf.getvalue()


def test_unregistered_type_is_refused(codec: SingleObjectCodec) -> None:
    @dataclasses.dataclass(frozen=True)
    class Stranger(Record):
        avro_name = "x.Stranger"

    with pytest.raises(TypeError, match="Stranger"):
        codec.encode(Stranger())


def test_make_codec_picks_the_wire_format() -> None:
    assert isinstance(make_codec(None), SingleObjectCodec)
    assert isinstance(make_codec(""), SingleObjectCodec)
    assert isinstance(make_codec("http://registry.invalid:8081"), js.ConfluentCodec)


def test_decode_error_pickles_and_feeds_poison_message() -> None:
    err = MessageDecodeError("t", 1, 2, "boom")
    clone = pickle.loads(pickle.dumps(err))
    assert (clone.topic, clone.partition, clone.offset, clone.reason) == ("t", 1, 2, "boom")
    assert str(clone) == str(err)
    poison = PoisonMessage.from_error(err, b"k", b"v")
    assert poison == PoisonMessage("t", 1, 2, b"k", b"v", "boom")


def test_bench_codec_reports_rates() -> None:
    figures = bench_codec(50)
    assert figures["n"] == 50 and figures["bytes"] > 100
    assert figures["encode_per_s"] > 0 and figures["decode_per_s"] > 0


# ------------------------------------------------------------------ property-based round trips
TEXT = st.text(st.characters(codec="utf-8"), max_size=40)  # Avro strings are UTF-8: no lone surrogates
INT32 = st.integers(-(2**31), 2**31 - 1)
INT64 = st.integers(-(2**63), 2**63 - 1)
MOMENTS = st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(9000, 1, 1), timezones=st.just(UTC))
ENVELOPES = st.builds(
    js.Envelope, event_id=TEXT, job_id=TEXT, seq=INT64, type=TEXT, occurred_at=MOMENTS, actor=TEXT,
    causation_id=st.none() | TEXT, correlation_id=st.none() | TEXT,
)
TASKS = (
    st.builds(js.ShellTask, argv=st.lists(TEXT, max_size=3), env=st.dictionaries(TEXT, TEXT, max_size=3),
              cwd=st.none() | TEXT, shell=st.booleans())
    | st.builds(js.HttpTask, method=TEXT, url=TEXT, timeout_s=st.none() | st.floats(allow_nan=False),
                expected_status=st.lists(INT32, max_size=3))
    | st.builds(js.PythonTask, entrypoint=TEXT, args_json=TEXT, kwargs_json=TEXT)
)
EVENTS = (
    st.builds(js.JobSubmitted, envelope=ENVELOPES, spec=st.builds(js.JobSpec, name=TEXT, priority=INT32, task=TASKS))
    | st.builds(js.JobFailed, envelope=ENVELOPES, execution_id=TEXT, attempt=INT32,
                outcome=st.sampled_from(js.Outcome), exit_code=st.none() | INT32, final=st.booleans(),
                duration_ms=INT64)
    | st.builds(js.JobProgressed, envelope=ENVELOPES, execution_id=TEXT, attempt=INT32,
                percent=st.none() | st.floats(allow_nan=False), message=st.none() | TEXT)
)


@settings(max_examples=150, deadline=None)
@given(EVENTS)
def test_arbitrary_events_round_trip(event: Record) -> None:
    assert SHARED.decode(SHARED.encode(event), **WHERE) == event


SHARED = SingleObjectCodec()

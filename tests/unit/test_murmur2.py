"""Our murmur2 against aiokafka's (itself checked against Java's): any key, the same hash."""

from __future__ import annotations

from aiokafka.partitioner import murmur2 as aiokafka_murmur2
from hypothesis import given
from hypothesis import strategies as st

from jobstream.streams.kafka_io import partition_for
from jobstream.streams.murmur2 import murmur2


@given(st.binary(max_size=80))
def test_murmur2_equals_the_reference_on_any_bytes(key: bytes) -> None:
    assert murmur2(key) == aiokafka_murmur2(key)


# Kafka's own test vectors (UtilsTest.testMurmur2), as Java's signed ints.
JAVA_VECTORS = {b"21": -973932308, b"foobar": -790332482, b"a-little-bit-long-string": -985981536,
                b"a-little-bit-longer-string": -1486304829,
                b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971, b"abc": 479470107}


def test_murmur2_gives_the_java_client_values() -> None:
    assert {key: murmur2(key) - (1 << 32) * (murmur2(key) >> 31) for key in JAVA_VECTORS} == JAVA_VECTORS


def test_partition_for_is_the_java_partitioner() -> None:
    assert partition_for("foobar", 12) == (-790332482 & 0x7FFFFFFF) % 12

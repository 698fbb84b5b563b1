"""What the codec relies on from a schema registry, checked against the stub of the unit tests
(``tests/unit/test_registry_contract.py``) and against the real one, Apicurio
(``tests/integration/test_registry.py``), so the stub cannot drift from the registry it stands for."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable

from jobstream import schemas as js
from jobstream.schemas import ConfluentCodec, SchemaRegistryClient, sample


def _schema(name: str, field_type: str = "long") -> str:
    return json.dumps({"type": "record", "name": name, "namespace": "contract",
                       "fields": [{"name": "a", "type": field_type}]})


def same_schema_same_id_across_subjects(url: str) -> None:
    name = f"R{uuid.uuid4().hex[:8]}"
    client = SchemaRegistryClient(url)
    first = client.register(f"a-contract.{name}", _schema(name))
    assert SchemaRegistryClient(url).register(f"a-contract.{name}", _schema(name)) == first  # idempotent
    assert SchemaRegistryClient(url).register(f"b-contract.{name}", _schema(name)) == first
    assert SchemaRegistryClient(url).register(f"a-contract.{name}", _schema(name, "string")) != first


def schema_by_id_returns_what_was_registered(url: str) -> None:
    name = f"R{uuid.uuid4().hex[:8]}"
    schema_id = SchemaRegistryClient(url).register(f"t-contract.{name}", _schema(name))
    fetched = SchemaRegistryClient(url).schema_by_id(schema_id)  # a cold client asks the registry
    assert fetched is not None and json.loads(fetched) == json.loads(_schema(name))


def unknown_id_is_none(url: str) -> None:
    assert SchemaRegistryClient(url).schema_by_id(2_000_000_000) is None


def codec_round_trips_through_a_cold_consumer(url: str) -> None:
    topic = f"contract-{uuid.uuid4().hex[:8]}"
    records = [sample(cls) for cls in (js.JobSubmitted, js.JobCompleted, js.SubmitJob)]
    encoded = [ConfluentCodec(SchemaRegistryClient(url)).encode(r, topic) for r in records]
    consumer = ConfluentCodec(SchemaRegistryClient(url))
    assert [consumer.decode(d, topic=topic, partition=0, offset=0) for d in encoded] == records


CONTRACT: tuple[Callable[[str], None], ...] = (
    same_schema_same_id_across_subjects,
    schema_by_id_returns_what_was_registered,
    unknown_id_is_none,
    codec_round_trips_through_a_cold_consumer,
)

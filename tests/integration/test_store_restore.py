"""A store restored from a changelog written with the previous version of its value schema.

Store values are Avro records of our schemas (``schemas/avro/state``), single-object encoded: the
writer schema's fingerprint travels with each value, so a release whose record gained fields
reads what the previous release wrote (the baseline schemas) through schema resolution."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path

from confluent_kafka import Consumer, Producer
from fastavro import schemaless_writer

from jobstream.config import Settings
from jobstream.infra.topics import TopicSpec, ensure_topics
from jobstream.schemas import AVRO_DIR, Held, Liveness, WorkerLiveness, load_schema_set, make_codec
from jobstream.streams.engine.config import EngineConfig, restore_consumer_config
from jobstream.streams.engine.restore import restore
from jobstream.streams.kafka_io import producer_config
from jobstream.streams.record_serde import RecordSerde

SEEN = datetime(2026, 3, 29, 1, 30, tzinfo=UTC)


def _previous_schemas(root: Path) -> Path:
    """The state schemas as an earlier release had them: WorkerLiveness without last_seq, Held
    without unlisted."""
    shutil.copytree(AVRO_DIR, root)
    for name, dropped in (("WorkerLiveness", "last_seq"), ("Held", "unlisted")):
        path = root / "state" / f"{name}.avsc"
        schema = json.loads(path.read_text())
        schema["fields"] = [f for f in schema["fields"] if f["name"] != dropped]
        path.write_text(json.dumps(schema))
    return root


def _written_by_previous_release(schemas: Path, worker_id: str) -> bytes:
    loaded = load_schema_set(schemas).schemas["jobstream.state.WorkerLiveness"]
    datum = {"worker_id": worker_id, "status": "lost", "last_seen": SEEN, "last_heartbeat_at": SEEN,
             "held": {"j.1": {"execution_id": "j.1", "job_id": "j", "attempt": 1, "listed": True}}}
    body = BytesIO()
    schemaless_writer(body, loaded.parsed, datum)
    return b"\xc3\x01" + loaded.fingerprint + body.getvalue()


def test_a_store_restores_values_of_the_previous_schema(test_settings: Settings, tmp_path: Path) -> None:
    # Given a changelog written by the previous release (and one value of the current one)
    previous = _previous_schemas(tmp_path / "previous")
    topic = f"{test_settings.topic_prefix}.store-restore-changelog"
    ensure_topics(test_settings.kafka_bootstrap, [TopicSpec(topic, 1, {"cleanup.policy": "compact"})])
    codec = make_codec(None, baseline_dir=previous)
    serde = RecordSerde(codec, WorkerLiveness, topic)
    current = WorkerLiveness(worker_id="w-new", status=Liveness.ACTIVE, last_seen=SEEN, last_heartbeat_at=SEEN,
                             last_seq=7)
    producer = Producer(producer_config(test_settings))
    producer.produce(topic, key=b"w-old", value=_written_by_previous_release(previous, "w-old"), partition=0)
    producer.produce(topic, key=b"w-new", value=serde.encode(current), partition=0)
    producer.flush(30)

    # When this release restores the store
    config = EngineConfig(app_id=f"{test_settings.topic_prefix}.restore-test", input_topics=(topic,),
                          changelog_topic=topic)
    consumer = Consumer(restore_consumer_config(test_settings, config))
    try:
        tables = restore(consumer, topic, [0], serde, timeout_s=60)
    finally:
        consumer.close()

    # Then the old value reads with the new fields' defaults, and the new one as written
    held = Held(execution_id="j.1", job_id="j", attempt=1, listed=True, unlisted=0)
    assert tables[0]["w-old"] == WorkerLiveness(worker_id="w-old", status=Liveness.LOST, last_seen=SEEN,
                                                last_heartbeat_at=SEEN, last_seq=0, held={"j.1": held})
    assert tables[0]["w-new"] == current

"""A store restored from a changelog written with the previous version of its value schema (and the
state processor's, from one holding the pickled states of earlier releases).

Store values are Avro records of our schemas (``schemas/avro/state``), single-object encoded: the
writer schema's fingerprint travels with each value, so a release whose record gained fields
reads what the previous release wrote (the baseline schemas) through schema resolution."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path
from typing import TypeVar

from confluent_kafka import Consumer, Producer
from fastavro import schemaless_writer

from jobstream.config import Settings
from jobstream.core.decide import decide
from jobstream.core.state import JobState, Status, evolve
from jobstream.infra.topics import TopicSpec, ensure_topics
from jobstream.schemas import AVRO_DIR, Command, Held, Liveness, WorkerLiveness, load_schema_set, make_codec
from jobstream.streams.engine.config import EngineConfig, restore_consumer_config
from jobstream.streams.engine.restore import restore
from jobstream.streams.engine.store import Serde
from jobstream.streams.kafka_io import producer_config
from jobstream.streams.record_serde import RecordSerde
from jobstream.streams.state_serde import StateSerde

V = TypeVar("V")

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
    # When this release restores the store
    tables: dict[int, dict[str, WorkerLiveness]] = _written_then_restored(test_settings, topic, serde, {
        b"w-old": _written_by_previous_release(previous, "w-old"), b"w-new": serde.encode(current)})

    # Then the old value reads with the new fields' defaults, and the new one as written
    held = Held(execution_id="j.1", job_id="j", attempt=1, listed=True, unlisted=0)
    assert tables[0]["w-old"] == WorkerLiveness(worker_id="w-old", status=Liveness.LOST, last_seen=SEEN,
                                                last_heartbeat_at=SEEN, last_seq=0, held={"j.1": held})
    assert tables[0]["w-new"] == current



def _written_then_restored(settings: Settings, topic: str, serde: Serde[V],
                           values: dict[bytes, bytes]) -> dict[int, dict[str, V]]:
    """Write ``values`` to partition 0 of the changelog ``topic``, then restore it as a processor
    assigned that partition would."""
    producer = Producer(producer_config(settings))
    for key, value in values.items():
        producer.produce(topic, key=key, value=value, partition=0)
    producer.flush(30)
    config = EngineConfig(app_id=f"{topic}.restore-test", input_topics=(topic,), changelog_topic=topic)
    consumer = Consumer(restore_consumer_config(settings, config))
    try:
        return restore(consumer, topic, [0], serde, timeout_s=60)
    finally:
        consumer.close()

# -- the state processor's store: JobState as JobStateValue, after the pickle of earlier releases --

GOLDEN = json.loads((Path(__file__).parents[1] / "unit" / "golden" / "wire_v1.json").read_text())
DECIDED_AT = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)  # the time the golden decisions were taken at


def _previous_state_schemas(root: Path) -> Path:
    """The job state schema as an earlier version had it: no result_json, no dependents."""
    shutil.copytree(AVRO_DIR, root)
    path = root / "state" / "JobStateFields.avsc"
    schema = json.loads(path.read_text())
    schema["fields"] = [f for f in schema["fields"] if f["name"] not in ("result_json", "dependents")]
    path.write_text(json.dumps(schema))
    return root


def _golden_state() -> tuple[bytes, JobState]:
    """A state as the previous release stored it (pickled), and the one its decision folds to."""
    command_hex, *_ = GOLDEN["pipeline"][0]
    command = make_codec(None).decode(bytes.fromhex(command_hex), topic="t", partition=0, offset=0)
    assert isinstance(command, Command)
    state = JobState(command.envelope.job_id)
    for event in decide(state, command, DECIDED_AT):
        state = evolve(state, event)
    return bytes.fromhex(GOLDEN["states"][0]), state


def _job_state_of_previous_schema(schemas: Path, job_id: str) -> bytes:
    loaded = load_schema_set(schemas).schemas["jobstream.state.JobStateValue"]
    fields = {"job_id": job_id, "seq": 3, "status": "running", "spec": None, "attempt": 1, "tries": 1,
              "execution_id": f"{job_id}.1", "worker_id": "w-1", "last_error": None, "submitted_at": SEEN,
              "updated_at": SEEN, "recent_commands": ["c1", "c2"], "next_run_at": None, "last_due": None,
              "runs": 0, "active_runs": [], "schedule_anchor": SEEN, "waiting_on": []}
    body = BytesIO()
    schemaless_writer(body, loaded.parsed, {"state": fields, "incomplete": []})
    return b"\xc3\x01" + loaded.fingerprint + body.getvalue()


def test_the_job_state_store_restores_pickled_values_and_those_of_the_previous_schema(
        test_settings: Settings, tmp_path: Path) -> None:
    # Given a changelog holding a state pickled by an earlier release, one written with the
    # previous version of the record's schema, and one of this release
    previous = _previous_state_schemas(tmp_path / "previous")
    topic = f"{test_settings.topic_prefix}.job-state-restore-changelog"
    ensure_topics(test_settings.kafka_bootstrap, [TopicSpec(topic, 1, {"cleanup.policy": "compact"})])
    serde = StateSerde(make_codec(None, baseline_dir=previous), topic)
    pickled, golden = _golden_state()
    current = JobState("j-new", seq=1, status=Status.PENDING, waiting_on=("up",), dependents=("down",),
                       result_json='{"x": 1}', recent_commands=("c0",))
    # When this release restores the store
    tables: dict[int, dict[str, JobState]] = _written_then_restored(test_settings, topic, serde, {
        golden.job_id.encode(): pickled, b"j-old": _job_state_of_previous_schema(previous, "j-old"),
        b"j-new": serde.encode(current)})

    # Then each reads as written, the old schema's value with the new fields' defaults
    assert tables[0][golden.job_id] == golden
    assert tables[0]["j-old"] == JobState("j-old", seq=3, status=Status.RUNNING, attempt=1, tries=1,
                                          execution_id="j-old.1", worker_id="w-1", submitted_at=SEEN,
                                          updated_at=SEEN, recent_commands=("c1", "c2"), schedule_anchor=SEEN)
    assert tables[0]["j-new"] == current

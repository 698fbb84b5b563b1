"""The secure broker (`infra up --secure`): SASL_SSL with SCRAM users, and ACLs that let only the
state processor write events, clients only commands, workers only their reports and heartbeats."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import KafkaError, Producer

from jobstream.config import Settings
from jobstream.infra.kafka import LocalKafka
from jobstream.infra.kafka_acls import apply_acls
from jobstream.infra.process import free_port
from jobstream.infra.topics import Topics, ensure_topics
from jobstream.schemas.events import JobQueued
from jobstream.sdk.kafka import KafkaClient
from jobstream.sdk.tasks import shell
from jobstream.streams.kafka_io import producer_config
from tests.integration.harness import ServiceProcess, TopicReader

PREFIX = "secure"


@pytest.fixture(scope="module")
def secure_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalKafka]:
    """A secure broker of this module only (its own ports and data directory), set up as
    `infra up --secure` does: topics and every role's ACLs, created as the admin."""
    base = Settings.from_env()
    kafka = LocalKafka(tmp_path_factory.mktemp("kafka-secure"), base.cache_dir, base.kafka_version, free_port(),
                       free_port(), "384m", secure=True)
    try:
        kafka.up()
        prepare(kafka, PREFIX)
        yield kafka
    finally:
        kafka.down()


def prepare(kafka: LocalKafka, prefix: str) -> None:
    topics = Topics(prefix)
    ensure_topics(kafka.bootstrap, topics.specs(3), security=kafka.client_security())
    apply_acls({"bootstrap.servers": kafka.bootstrap, **kafka.client_security()}, topics)


def as_role(kafka: LocalKafka, role: str, password: str | None = None, prefix: str = PREFIX) -> Settings:
    """A process's settings authenticating as ``role`` (its password from the users file unless given)."""
    files = kafka.secure_files
    return Settings.from_env().with_(external_kafka=kafka.bootstrap, topic_prefix=prefix, partitions=3,
                                     kafka_security_protocol="SASL_SSL", kafka_sasl_username=role,
                                     kafka_sasl_password=password or files.ensure()[role], kafka_ca_file=files.tls.ca)


def write(settings: Settings, topic: str) -> KafkaError | None:
    """Produce one message with the project's producer config; the broker's answer (None: written)."""
    producer = Producer(producer_config(settings, **{"message.timeout.ms": 20_000}))
    answers: list[KafkaError | None] = []
    producer.produce(topic, b"value", b"job-1", on_delivery=lambda error, _: answers.append(error))
    producer.flush(30)
    assert answers, f"no answer for a write to {topic}"
    return answers[0]


def refused(error: KafkaError | None) -> bool:
    return error is not None and error.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED


def test_a_client_may_write_commands_but_not_events(secure_kafka: LocalKafka) -> None:
    client, topics = as_role(secure_kafka, "client"), Topics(PREFIX)
    assert refused(write(client, topics.events))
    assert write(client, topics.commands) is None
    assert refused(write(client, topics.workers))


def test_only_the_state_processor_writes_events(secure_kafka: LocalKafka) -> None:
    topics = Topics(PREFIX)
    assert write(as_role(secure_kafka, "state-processor"), topics.events) is None
    for role in ("api", "worker", "dispatcher", "timers", "worker-monitor", "projector"):
        assert refused(write(as_role(secure_kafka, role), topics.events)), role


def test_a_worker_writes_its_reports_and_heartbeats_only(secure_kafka: LocalKafka) -> None:
    """A worker's reports are commands (ReportStarted, ReportFinished) and its heartbeats are on
    the workers topic; assignments, events and the keys are not its to write."""
    worker, topics = as_role(secure_kafka, "worker"), Topics(PREFIX)
    assert write(worker, topics.commands) is None
    assert write(worker, topics.workers) is None
    for topic in (topics.events, topics.assignments, topics.keys, topics.dead_letters):
        assert refused(write(worker, topic)), topic


def test_a_wrong_password_is_refused(secure_kafka: LocalKafka, tmp_path: Path) -> None:
    settings = as_role(secure_kafka, "client", password="not-the-password")
    errors: list[KafkaError] = []
    producer = Producer({**producer_config(settings), "error_cb": errors.append})
    deadline = time.monotonic() + 30
    while not any(e.code() == KafkaError._AUTHENTICATION for e in errors) and time.monotonic() < deadline:
        producer.poll(0.2)
    assert any(e.code() == KafkaError._AUTHENTICATION for e in errors), errors


def test_the_state_processor_queues_a_job_as_its_own_principal(secure_kafka: LocalKafka, tmp_path: Path) -> None:
    """A client's SubmitJob, sent through the SDK, becomes JobSubmitted and JobQueued, written by the
    state processor authenticated as itself (on topics of their own: the others hold test bytes)."""
    prefix = "secure-run"
    prepare(secure_kafka, prefix)
    processor = ServiceProcess("state-processor", ["state-processor"],
                               as_role(secure_kafka, "state-processor", prefix=prefix).with_(state_dir=tmp_path),
                               tmp_path).start()
    reader = TopicReader(as_role(secure_kafka, "admin", prefix=prefix), Topics(prefix).events)
    try:
        with KafkaClient.from_settings(as_role(secure_kafka, "client", prefix=prefix)) as client:
            job_id = client.submit(shell("true"), name="secure").job_id
        reader.wait_for(lambda records: any(isinstance(r, JobQueued) and r.envelope.job_id == job_id
                                            for r in records), 90, "the job queued")
    except AssertionError:
        print(processor.log_tail())
        raise
    finally:
        reader.close()
        processor.stop()

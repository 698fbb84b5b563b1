"""Hostile commands-topic input (random bytes, unknown fingerprints, unknown enum symbols, valid
Avro with hostile values): each message is set aside on the poison topic with its origin,
or decided (a rejection with a reason, or events), the state processor keeps going, and its
metrics count what it set aside and rejected."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TypeVar

import httpx
from confluent_kafka import Consumer, Producer
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from jobstream.clock import new_job_id
from jobstream.config import Settings
from jobstream.core.validation import MAX_COMMAND_BYTES
from jobstream.infra.process import free_port
from jobstream.infra.topics import Topics
from jobstream.schemas import (
    Command,
    CommandRejected,
    JobCompleted,
    JobSpec,
    ReportRejected,
    ShellTask,
    SubmitJob,
    make_codec,
)
from jobstream.schemas.samples import sample
from jobstream.streams.kafka_io import Publisher, command_envelope, consumer_config, partition_for, producer_config
from tests.hostile import COMMAND_CLASSES, broken_bytes, hostile_command, unknown_enum_symbols
from tests.integration.harness import ServiceProcess, TopicReader, end_offsets, poll

BROKEN, HOSTILE = 20, 60
MAX_MESSAGE = 900_000  # the producer refuses more than the broker takes: such input never arrives
CODEC = make_codec(None)
T = TypeVar("T")


def generate(strategy: st.SearchStrategy[T], count: int) -> list[T]:
    """``count`` examples of ``strategy``, the same on every run."""
    drawn: list[T] = []

    @seed(11)
    @settings(max_examples=count, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(example=strategy)
    def collect(example: T) -> None:
        drawn.append(example)

    collect()
    return drawn[:count]


def fuzz_messages() -> tuple[list[bytes], list[Command]]:
    headers = [CODEC.encode(sample(cls))[:10] for cls in COMMAND_CLASSES]
    broken = generate(broken_bytes(headers), BROKEN) + unknown_enum_symbols()
    commands = []
    for n, command in enumerate(generate(hostile_command(), HOSTILE)):
        envelope = dataclasses.replace(command.envelope, command_id=f"fuzz-{n}")
        command = dataclasses.replace(command, envelope=envelope)
        if len(CODEC.encode(command)) + len(envelope.job_id.encode()) < MAX_MESSAGE:  # value and key
            commands.append(command)
    return broken, commands


def poison_offsets(settings: Settings, topic: str, expected: int) -> dict[tuple[int, int], str]:
    """(origin partition, origin offset) -> reason of each message on the poison topic."""
    consumer = Consumer(consumer_config(settings, f"{settings.topic_prefix}-poison-check"))
    consumer.subscribe([topic])
    found: dict[tuple[int, int], str] = {}

    def read() -> bool:
        for message in consumer.consume(500, 0.5):
            if message.error() is None:
                raw: list[tuple[str, bytes]] = list(message.headers() or [])  # type: ignore[arg-type]
                headers = {k: v.decode() for k, v in raw}
                found[(int(headers["origin.partition"]), int(headers["origin.offset"]))] = headers["reason"]
        return len(found) >= expected

    try:
        poll(read, 60, f"{expected} messages on the poison topic")
    finally:
        consumer.close()
    return found


def test_hostile_commands_are_set_aside_or_rejected_and_processing_goes_on(
        test_settings: Settings, topics_ready: Topics, services: dict[str, ServiceProcess], tmp_path: Path) -> None:
    metrics_port = free_port()
    services["sp"] = ServiceProcess("state-processor", ["state-processor", "--metrics-port", str(metrics_port)],
                                    test_settings, tmp_path).start()
    for name, args in (("dispatcher", ["dispatcher"]), ("worker", ["worker", "--slots", "2"])):
        services[name] = ServiceProcess(name, args, test_settings, tmp_path).start()
    events = TopicReader(test_settings, topics_ready.events)
    try:
        check_fuzz(test_settings, topics_ready, metrics_port, events)
    finally:
        events.close()


def check_fuzz(test_settings: Settings, topics_ready: Topics, metrics_port: int, events: TopicReader) -> None:
    broken, commands = fuzz_messages()
    assert len(commands) > HOSTILE // 2, "most hostile commands fit a Kafka message"
    # Given undecodable bytes and hostile commands on the commands topic, each where its key hashes
    start = end_offsets(test_settings, topics_ready.commands)
    raw = Producer(producer_config(test_settings))
    sent: list[tuple[int, bytes]] = []
    for n, value in enumerate(broken):
        sent.append((n % test_settings.partitions, value))
        raw.produce(topics_ready.commands, key=f"broken-{n}".encode(), value=value,
                    partition=n % test_settings.partitions)
    for command in commands:
        job_id = command.envelope.job_id
        raw.produce(topics_ready.commands, key=job_id.encode(), value=CODEC.encode(command),
                    partition=partition_for(job_id, test_settings.partitions))
    assert raw.flush(60) == 0

    # When a normal job is submitted after them
    job_id = new_job_id()
    publisher = Publisher(test_settings)
    spec = JobSpec(name="after-the-fuzz", task=ShellTask(argv=["true"]))
    publisher.send_command(SubmitJob(envelope=command_envelope(SubmitJob, job_id, "test"), spec=spec))
    publisher.flush()

    # Then it completes: the processor kept going
    events.wait_for(lambda records: any(isinstance(r, JobCompleted) and r.envelope.job_id == job_id
                                        for r in records), 120, "the normal job to complete")
    # And every broken message is on the poison topic with its origin and a reason
    poisoned = poison_offsets(test_settings, topics_ready.poison, len(broken))
    offsets = dict.fromkeys(range(test_settings.partitions), 0)
    for partition, _ in sent:
        offsets[partition] += 1
    assert all(reason for reason in poisoned.values())
    broken_origins = {(p, start[p] + k) for p in offsets for k in range(offsets[p])}
    assert broken_origins <= set(poisoned), "a broken message is missing from the poison topic"
    # And every hostile command was decided: a rejection with a reason, or events it caused
    events.drain(quiet_s=2)
    caused = {r.envelope.causation_id for r in events.records}
    rejected = [r for r in events.records if isinstance(r, CommandRejected | ReportRejected)]
    assert all(r.reason for r in rejected)
    undecided = [c.envelope.type for c in commands if c.envelope.command_id not in caused]
    assert not undecided, undecided  # none set aside either: a well-formed command is always decidable
    # And one too large for its outcome to fit a Kafka record is rejected, saying so, before it is decided
    too_large = {c.envelope.command_id for c in commands if len(CODEC.encode(c)) > MAX_COMMAND_BYTES}
    assert too_large, "the fuzz holds commands over the limit"
    refused = {r.envelope.causation_id for r in rejected if f"over the limit of {MAX_COMMAND_BYTES}" in r.reason}
    assert refused == too_large
    assert len(poisoned) == len(broken)
    # And the metrics count them, with a label per command type (not per hostile envelope.type)
    scraped = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).text
    assert f'jobstream_poison_total{{process="state-processor"}} {float(len(broken))}' in scraped
    series = {family.name: family.samples for family in text_string_to_metric_families(scraped)}
    counted = sum(sample.value for sample in series["jobstream_rejections"] if sample.name.endswith("_total"))
    assert counted == len(rejected)
    labels = {sample.labels["type"] for sample in series["jobstream_commands"] if sample.name.endswith("_total")}
    assert labels <= {cls.short_name() for cls in COMMAND_CLASSES}, labels

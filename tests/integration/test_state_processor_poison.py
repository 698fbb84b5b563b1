"""A malformed command is set aside with its origin, and the processor carries on."""

from __future__ import annotations

from pathlib import Path

import httpx
from confluent_kafka import Producer

from jobstream.clock import new_job_id
from jobstream.config import Settings
from jobstream.infra.process import free_port
from jobstream.infra.topics import Topics
from jobstream.schemas import JobQueued, JobSpec, ShellTask, SubmitJob
from jobstream.streams.kafka_io import Publisher, command_envelope, partition_for, producer_config
from tests.integration.harness import ServiceProcess, TopicReader, end_offsets, poison_message


def test_garbage_command_goes_to_the_poison_topic_and_nothing_else_stops(
        test_settings: Settings, topics_ready: Topics, services: dict[str, ServiceProcess], tmp_path: Path) -> None:
    metrics_port = free_port()
    args = ["state-processor", "--metrics-port", str(metrics_port)]
    services["sp"] = ServiceProcess("state-processor", args, test_settings, tmp_path).start()
    job_id = new_job_id()
    partition = partition_for(job_id, test_settings.partitions)
    garbage_offset = end_offsets(test_settings, topics_ready.commands)[partition]

    # Given a garbage message, then a good command, on the same partition
    raw = Producer(producer_config(test_settings))
    raw.produce(topics_ready.commands, key=job_id.encode(), value=b"\x00not avro at all", partition=partition)
    raw.flush(10)
    publisher = Publisher(test_settings)
    spec = JobSpec(name="after-garbage", task=ShellTask(argv=["true"]), queue="nobody")
    publisher.send_command(SubmitJob(envelope=command_envelope(SubmitJob, job_id, "test"), spec=spec))
    publisher.flush()

    # Then the good command is decided
    events = TopicReader(test_settings, topics_ready.events)
    events.wait_for(lambda records: any(isinstance(r, JobQueued) and r.envelope.job_id == job_id for r in records),
                    60, "the good command to be decided")

    # And the garbage is on the poison topic, naming where it came from
    value, headers = poison_message(test_settings, topics_ready.poison, 60)
    assert value == b"\x00not avro at all"
    assert headers["origin.topic"] == topics_ready.commands
    assert (headers["origin.partition"], headers["origin.offset"]) == (str(partition), str(garbage_offset))
    assert headers["reason"]

    # And the processor's /metrics count what it did
    scraped = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).text
    assert 'jobstream_commands_total{namespace="default",type="SubmitJob"} 1.0' in scraped
    assert 'jobstream_poison_total{process="state-processor"} 1.0' in scraped
    assert 'jobstream_events_total{namespace="default",type="JobQueued"} 1.0' in scraped

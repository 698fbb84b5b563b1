"""What exactly-once buys the state processor: an owner fenced by its successor writes nothing;
and a store rebuilt from the events when its changelog is empty."""

from __future__ import annotations

import signal
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka.admin import AdminClient

from jobstream.clock import new_job_id
from jobstream.config import Settings
from jobstream.infra.process import wait_until
from jobstream.infra.topics import Topics, ensure_topics
from jobstream.schemas import CancelJob, CommandRejected, JobCancelled, JobQueued, JobSpec, ShellTask, SubmitJob
from jobstream.streams.kafka_io import Publisher, command_envelope, partition_for
from tests.integration.harness import ServiceProcess, TopicReader


def _submit(publisher: Publisher, count: int, name: str) -> list[str]:
    jobs = [new_job_id() for _ in range(count)]
    spec = JobSpec(name=name, task=ShellTask(argv=["true"]), queue="nobody-serves-this")
    for job_id in jobs:
        publisher.send_command(SubmitJob(envelope=command_envelope(SubmitJob, job_id, "test"), spec=spec))
        publisher.poll(0)
    publisher.flush()
    return jobs


def _queued(records: list[object], jobs: list[str]) -> set[str]:
    wanted = set(jobs)
    return {r.envelope.job_id for r in records if isinstance(r, JobQueued) and r.envelope.job_id in wanted}


@pytest.mark.parametrize("b_instance", ["sp-a", "sp-b"], ids=["same-instance-id", "other-instance-id"])
def test_a_fenced_owner_writes_nothing(test_settings: Settings, topics_ready: Topics,
                                       services: dict[str, ServiceProcess], tmp_path: Path, b_instance: str) -> None:
    """Same instance id: B's transactional id fences A's producer. Another id: A's partitions go
    to B once A's session times out, and A's stale group generation fences its offsets."""
    publisher = Publisher(test_settings)
    reader = TopicReader(test_settings, topics_ready.events)
    # Given instance A deciding a burst of commands
    services["a"] = ServiceProcess("sp-a", ["state-processor", "--instance-id", "sp-a"], test_settings,
                                   tmp_path).start()
    warmup = _submit(publisher, 1, "warm-up")
    reader.wait_for(lambda records: _queued(records, warmup) == set(warmup), 60, "A to start")
    burst = _submit(publisher, 4000, "burst")
    reader.wait_for(lambda records: len(_queued(records, burst)) > 100, 60, "A to be deciding the burst")

    # When A is stopped mid-burst (commands fetched, a transaction likely open) and B takes over
    services["a"].signal(signal.SIGSTOP)
    services["b"] = ServiceProcess("sp-b", ["state-processor", "--instance-id", b_instance], test_settings,
                                   tmp_path).start()
    after = _submit(publisher, 200, "after-takeover")
    reader.wait_for(lambda records: _queued(records, burst + after) == set(burst + after), 120,
                    "B to decide every command")

    # And A runs again, with whatever it had fetched and staged
    services["a"].signal(signal.SIGCONT)
    late = _submit(publisher, 50, "late")
    reader.wait_for(lambda records: _queued(records, late) == set(late), 60, "the late commands")
    if b_instance == "sp-a":  # the same identity: A can only exit, fenced
        assert services["a"].process is not None
        wait_until(lambda: services["a"].process.poll() is not None, 60, "the fenced A to exit")  # type: ignore[union-attr]
        assert services["a"].process.returncode == 2, services["a"].log_tail()  # type: ignore[union-attr]
        assert "exiting" in services["a"].log_path.read_text()
    reader.drain(quiet_s=2.0)

    # Then no event was written twice: A's transaction was fenced, not committed after B's
    counts = Counter((r.envelope.job_id, r.envelope.seq) for r in reader.records)
    twice = [key for key, n in counts.items() if n > 1]
    assert not twice, f"{len(twice)} events written twice, e.g. {twice[:3]}"
    for job_id in warmup + burst + after + late:
        assert counts[(job_id, 1)] == 1 and counts[(job_id, 2)] == 1, job_id
    reader.close()


def test_a_store_whose_changelog_is_lost_is_rebuilt_from_the_events(
        test_settings: Settings, topics_ready: Topics, services: dict[str, ServiceProcess], tmp_path: Path) -> None:
    # Given jobs decided by a state processor that then stops
    publisher = Publisher(test_settings)
    reader = TopicReader(test_settings, topics_ready.events)
    services["first"] = ServiceProcess("sp-first", ["state-processor"], test_settings, tmp_path).start()
    jobs = _submit(publisher, 20, "before")
    reader.wait_for(lambda records: _queued(records, jobs) == set(jobs), 60, "the jobs to be queued")
    assert services["first"].stop() == 0

    # When its changelog is lost (deleted, created again empty) and it starts again
    _recreate_empty(test_settings, topics_ready.state_processor_changelog)
    services["second"] = ServiceProcess("sp-second", ["state-processor"], test_settings, tmp_path).start()
    resubmitted = SubmitJob(envelope=command_envelope(SubmitJob, jobs[0], "test"),
                            spec=JobSpec(name="again", task=ShellTask(argv=["true"])))
    publisher.send_command(resubmitted)
    publisher.send_command(CancelJob(envelope=command_envelope(CancelJob, jobs[1], "test")))
    publisher.flush()

    # Then it knows every job as before: the same id is refused, a cancel decided, seqs go on
    reader.wait_for(lambda records: {(r.envelope.job_id, r.envelope.seq) for r in records} >= {
        (jobs[0], 3), (jobs[1], 3)}, 90, "the two commands to be decided")
    third = {r.envelope.job_id: r for r in reader.records if r.envelope.seq == 3}
    assert isinstance(third[jobs[0]], CommandRejected) and "already exists" in third[jobs[0]].reason
    assert isinstance(third[jobs[1]], JobCancelled)
    assert "rebuilt" in services["second"].log_path.read_text()
    reader.close()


def _recreate_empty(settings: Settings, topic: str) -> None:
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap})
    admin.delete_topics([topic])[topic].result(30)
    wait_until(lambda: topic not in admin.list_topics(timeout=10).topics, 60, f"{topic} to be deleted")
    ensure_topics(settings.kafka_bootstrap, Topics(settings.topic_prefix).specs(settings.partitions))


def test_a_command_on_a_partition_its_job_does_not_hash_to_is_decided_where_the_job_lives(
        test_settings: Settings, topics_ready: Topics, services: dict[str, ServiceProcess], tmp_path: Path) -> None:
    # Given a producer that ignores murmur2 and sends a job's submit, then its cancel, to other partitions
    services["sp"] = ServiceProcess("sp", ["state-processor"], test_settings, tmp_path).start()
    job_id = new_job_id()
    home = partition_for(job_id, test_settings.partitions)
    wrong = [p for p in range(test_settings.partitions) if p != home]
    publisher = Publisher(test_settings)
    reader = TopicReader(test_settings, topics_ready.events)

    def send(command: SubmitJob | CancelJob, partition: int) -> None:
        publisher.producer.produce(topics_ready.commands, key=job_id.encode(), partition=partition,
                                   value=publisher.codec.encode(command, topics_ready.commands))
        publisher.producer.flush(30)

    def decided(seq: int) -> Callable[[list[Any]], bool]:
        return lambda records: any(r.envelope.job_id == job_id and r.envelope.seq == seq for r in records)

    send(SubmitJob(envelope=command_envelope(SubmitJob, job_id, "test"),
                   spec=JobSpec(name="misrouted", task=ShellTask(argv=["true"]), queue="nobody-serves-this")), wrong[0])
    reader.wait_for(decided(2), 60, "the submit to be decided")
    send(CancelJob(envelope=command_envelope(CancelJob, job_id, "test")), wrong[-1])
    reader.wait_for(decided(3), 60, "the cancel to be decided")

    # Then both were decided by the job's own partition, in one history
    mine = [(raw, r) for raw, r in zip(reader.raw, reader.records, strict=True) if r.envelope.job_id == job_id]
    assert [type(r).__name__ for _, r in mine] == ["JobSubmitted", "JobQueued", "JobCancelled"]
    assert {raw[1] for raw, _ in mine} == {home}
    reader.close()

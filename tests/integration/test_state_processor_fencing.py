"""The state processor's integration scenarios on the exactly-once engine runtime, and what only
the engine promises: a fenced owner writes nothing."""

from __future__ import annotations

import signal
from collections import Counter
from pathlib import Path

import pytest

from jobstream.config import Settings
from jobstream.core.ids import new_job_id
from jobstream.infra.process import wait_until
from jobstream.infra.topics import Topics
from jobstream.schemas import JobQueued, JobSpec, ShellTask, SubmitJob
from jobstream.streams.kafka_io import Publisher, command_envelope
from tests.integration import (
    test_state_processor_poison as poison,
    test_state_processor_recovery as recovery,
    test_state_processor_retirement as retirement,
)
from tests.integration.harness import ServiceProcess, TopicReader


@pytest.fixture
def engine_settings(test_settings: Settings) -> Settings:
    return test_settings.with_(state_runtime="engine")


def test_poison_on_engine(engine_settings: Settings, topics_ready: Topics, services: dict[str, ServiceProcess],
                          tmp_path: Path) -> None:
    poison.test_garbage_command_goes_to_the_poison_topic_and_nothing_else_stops(
        engine_settings, topics_ready, services, tmp_path)


def test_kill_9_mid_burst_on_engine(engine_settings: Settings, topics_ready: Topics,
                                    services: dict[str, ServiceProcess], tmp_path: Path) -> None:
    """Strict here: the engine has no catch-up to stall in (the faust runtime's test is xfail)."""
    recovery.test_kill_9_mid_burst(engine_settings, topics_ready, services, tmp_path)


def test_retirement_on_engine(engine_settings: Settings, topics_ready: Topics, services: dict[str, ServiceProcess],
                              tmp_path: Path) -> None:
    retirement.test_settled_jobs_are_retired_and_still_refuse_late_commands(
        engine_settings, topics_ready, services, tmp_path)


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
def test_a_fenced_owner_writes_nothing(engine_settings: Settings, topics_ready: Topics,
                                       services: dict[str, ServiceProcess], tmp_path: Path, b_instance: str) -> None:
    """Same instance id: B's transactional id fences A's producer. Another id: A's partitions go
    to B once A's session times out, and A's stale group generation fences its offsets."""
    publisher = Publisher(engine_settings)
    reader = TopicReader(engine_settings, topics_ready.events)
    # Given instance A deciding a burst of commands
    services["a"] = ServiceProcess("sp-a", ["state-processor", "--instance-id", "sp-a"], engine_settings,
                                   tmp_path).start()
    warmup = _submit(publisher, 1, "warm-up")
    reader.wait_for(lambda records: _queued(records, warmup) == set(warmup), 60, "A to start")
    burst = _submit(publisher, 4000, "burst")
    reader.wait_for(lambda records: len(_queued(records, burst)) > 100, 60, "A to be deciding the burst")

    # When A is stopped mid-burst (commands fetched, a transaction likely open) and B takes over
    services["a"].signal(signal.SIGSTOP)
    services["b"] = ServiceProcess("sp-b", ["state-processor", "--instance-id", b_instance], engine_settings,
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

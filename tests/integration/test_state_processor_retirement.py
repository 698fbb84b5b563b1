"""Settled jobs slim down to tombstones after the retention, and still answer late commands right,
across a kill -9 of the state processor."""

from __future__ import annotations

from pathlib import Path

import httpx

from jobstream.clock import new_job_id
from jobstream.config import Settings
from jobstream.infra.process import free_port, wait_until
from jobstream.infra.topics import Topics
from jobstream.schemas import CancelJob, CommandRejected, JobCancelled, JobSpec, ShellTask, SubmitJob
from jobstream.streams.kafka_io import Publisher, command_envelope
from tests.integration.harness import ServiceProcess, TopicReader

JOBS = 20


def _metric(metrics_url: str, name: str) -> float:
    """The sum of a metric's samples (over its labels), 0 when it is not served yet."""
    try:
        text = httpx.get(metrics_url, timeout=5).text
    except httpx.HTTPError:
        return 0.0
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith((f"{name} ", f"{name}{{")))


def _retired(metrics_url: str) -> float:
    return _metric(metrics_url, "jobstream_jobs_retired_total")


def _rejections(records: list[object], job_ids: set[str]) -> list[CommandRejected]:
    return [r for r in records if isinstance(r, CommandRejected) and r.envelope.job_id in job_ids]


def test_settled_jobs_are_retired_and_still_refuse_late_commands(test_settings: Settings, topics_ready: Topics,
                                                                 services: dict[str, ServiceProcess],
                                                                 tmp_path: Path) -> None:
    # Given a state processor that retires settled jobs one second after they settle
    settings = test_settings.with_(state_retention_s=1.0)
    port = free_port()
    args = ["state-processor", "--instance-id", "retiring", "--metrics-port", str(port)]
    services["first"] = ServiceProcess("state-processor", args, settings, tmp_path).start()
    publisher = Publisher(settings)
    reader = TopicReader(settings, topics_ready.events)
    jobs = [new_job_id() for _ in range(JOBS)]
    spec = JobSpec(name="retire", task=ShellTask(argv=["true"]), queue="nobody-serves-this")
    for job_id in jobs:
        publisher.send_command(SubmitJob(envelope=command_envelope(SubmitJob, job_id, "test"), spec=spec))
        publisher.send_command(CancelJob(envelope=command_envelope(CancelJob, job_id, "test")))
    publisher.flush()
    reader.wait_for(lambda records: sum(isinstance(r, JobCancelled) for r in records) >= JOBS, 60, "the cancels")

    # When they have been retired, and the processor is killed and restarted
    metrics_url = f"http://127.0.0.1:{port}/metrics"
    wait_until(lambda: _retired(metrics_url) >= JOBS, 60, "the settled jobs to be retired")
    # (the engine's own measures are served too: transactions, and the commands per batch)
    assert _metric(metrics_url, "jobstream_engine_transactions_total") >= 1
    assert _metric(metrics_url, "jobstream_engine_batch_messages_sum") >= 2 * JOBS
    services["first"].kill()
    services["second"] = ServiceProcess("state-processor", args, settings, tmp_path).start()

    # Then a late submit of the same id and a late cancel are refused, numbered after the job's events
    for job_id in jobs:
        publisher.send_command(SubmitJob(envelope=command_envelope(SubmitJob, job_id, "test"), spec=spec))
        publisher.send_command(CancelJob(envelope=command_envelope(CancelJob, job_id, "test")))
    publisher.flush()
    reader.wait_for(lambda records: len(_rejections(records, set(jobs))) >= 2 * JOBS, 90, "the late commands")
    for job_id in jobs:
        late = [r for r in _rejections(reader.records, {job_id})]
        assert [r.envelope.seq for r in late] == [4, 5], late  # submitted, queued, cancelled, then these
        assert "already exists" in late[0].reason and "already cancelled" in late[1].reason
    reader.close()

"""A late internal command after a job completed (the dispatcher's assignment overtaken by the
worker's start and finish, a redelivered report) leaves the job's audit trail exact, and is
counted in jobstream_commands_ignored_total instead."""

from __future__ import annotations

from pathlib import Path

import httpx

from jobstream.clock import new_job_id
from jobstream.config import Settings
from jobstream.infra.process import free_port
from jobstream.infra.topics import Topics
from jobstream.schemas import (
    AssignJob,
    Command,
    CommandEnvelope,
    JobCompleted,
    JobSpec,
    Outcome,
    ReportFinished,
    ReportStarted,
    ShellTask,
    SubmitJob,
)
from jobstream.streams.kafka_io import Publisher, command_envelope
from tests.integration.harness import ServiceProcess, TopicReader, poll

LEASE = dict(execution_id="", attempt=1, worker_id="w1")


def test_a_late_assignment_and_a_repeated_report_leave_no_trace_in_the_audit_trail(
        test_settings: Settings, topics_ready: Topics, services: dict[str, ServiceProcess], tmp_path: Path) -> None:
    metrics_port = free_port()
    services["sp"] = ServiceProcess("state-processor", ["state-processor", "--metrics-port", str(metrics_port)],
                                    test_settings, tmp_path).start()
    job_id = new_job_id()
    lease = {**LEASE, "execution_id": f"{job_id}.1"}

    def envelope(cls: type[Command], command_id: str) -> CommandEnvelope:
        return command_envelope(cls, job_id, "test", command_id=command_id)

    finished = ReportFinished(envelope=envelope(ReportFinished, "finish"), outcome=Outcome.SUCCEEDED, exit_code=0,
                              result_json=None, stdout_tail="", stderr_tail="", error=None, duration_ms=5, **lease)
    # Given a job whose worker started and finished it before the dispatcher's assignment arrived,
    # then that assignment, and the worker's finish report sent again
    publisher = Publisher(test_settings)
    for command in [
        SubmitJob(envelope=envelope(SubmitJob, "submit"), spec=JobSpec(name="late", task=ShellTask(argv=["true"]))),
        ReportStarted(envelope=envelope(ReportStarted, "start"), pid=1, **lease),
        finished,
        AssignJob(envelope=envelope(AssignJob, "assign"), **lease),
        finished,
    ]:
        publisher.send_command(command)
    publisher.flush()
    del publisher  # its connections go now, not when the broker is down at the session's end

    # Then the job's audit trail is exactly its run
    events = TopicReader(test_settings, topics_ready.events)
    try:
        events.wait_for(lambda records: any(isinstance(r, JobCompleted) for r in records), 60, "the completion")
        events.drain(quiet_s=1)
        types = [r.envelope.type for r in events.records if r.envelope.job_id == job_id]
    finally:
        events.close()
    assert types == ["JobSubmitted", "JobQueued", "JobAssigned", "JobStarted", "JobCompleted"], types

    # And the state processor counted both late commands as ignored
    def ignored() -> dict[str, float] | None:
        try:
            scraped = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).text
        except httpx.HTTPError:
            return None
        counts = {kind: float(line.rsplit(" ", 1)[1]) for kind in ("AssignJob", "ReportFinished")
                  for line in scraped.splitlines()
                  if line.startswith(f'jobstream_commands_ignored_total{{namespace="default",type="{kind}"}}')}
        return counts if len(counts) == 2 else None

    assert poll(ignored, 30, "both late commands to be counted") == {"AssignJob": 1.0, "ReportFinished": 1.0}

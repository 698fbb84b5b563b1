"""A retry whose timer the timer processor lost (here: no timer processor runs at all) is armed
again by the state processor once it is long overdue, with the same timer id, so that the job does
not wait forever; a job whose timer is not overdue is left alone."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

from jobstream.clock import new_job_id
from jobstream.config import Settings
from jobstream.core.decide import retry_timer_id
from jobstream.core.timer_watch import GRACE_S
from jobstream.infra.topics import Topics
from jobstream.schemas import (
    Command,
    CommandEnvelope,
    Jitter,
    JobSpec,
    Outcome,
    ReportFinished,
    ReportStarted,
    RetryPolicy,
    ShellTask,
    SubmitJob,
    TimerChange,
)
from jobstream.streams.kafka_io import Publisher, command_envelope
from tests.integration.harness import ServiceProcess, TopicReader

DEADLINE_S = 60.0  # beyond the grace and a punctuation, on a busy 2-core machine


def failed_once(job_id: str, backoff_s: float) -> list[Command]:
    """A job with retries whose first attempt a worker started and reported failed."""
    def envelope(cls: type[Command], what: str) -> CommandEnvelope:
        return command_envelope(cls, job_id, "test", command_id=f"{job_id}:{what}")

    lease = {"execution_id": f"{job_id}.1", "attempt": 1, "worker_id": "w1"}
    spec = JobSpec(name="retried", task=ShellTask(argv=["false"]),
                   retry=RetryPolicy(max_attempts=3, initial_backoff_s=backoff_s, max_backoff_s=backoff_s,
                                     jitter=Jitter.NONE))
    return [SubmitJob(envelope=envelope(SubmitJob, "submit"), spec=spec),
            ReportStarted(envelope=envelope(ReportStarted, "start"), pid=1, **lease),
            ReportFinished(envelope=envelope(ReportFinished, "finish"), outcome=Outcome.FAILED, exit_code=1,
                           result_json=None, stdout_tail="", stderr_tail="", error="boom", duration_ms=5, **lease)]


def test_a_lost_retry_timer_is_armed_again_once_long_overdue(
        test_settings: Settings, topics_ready: Topics, services: dict[str, ServiceProcess], tmp_path: Path) -> None:
    # Given a state processor and no timer processor: every timer is lost
    services["sp"] = ServiceProcess("state-processor", ["state-processor"], test_settings, tmp_path).start()
    lost, waiting = new_job_id(), new_job_id()
    publisher = Publisher(test_settings)
    for command in failed_once(lost, backoff_s=1.0) + failed_once(waiting, backoff_s=3600.0):
        publisher.send_command(command)
    publisher.flush()

    # When the retry's timer is never fired
    requests = TopicReader(test_settings, topics_ready.timer_requests)
    started = time.monotonic()
    try:
        def arms(records: list[object], job_id: str) -> list[TimerChange]:
            return [r for r in records if isinstance(r, TimerChange) and r.job_id == job_id and r.arm]

        requests.wait_for(lambda records: len(arms(records, lost)) >= 2, GRACE_S + DEADLINE_S,
                          "the lost timer to be armed again")
        armed_again_after_s = time.monotonic() - started
        first, again = arms(requests.records, lost)[:2]
        others = arms(requests.records, waiting)
    finally:
        requests.close()

    # Then it is armed again, with the same timer, no sooner than the grace after it was due
    assert [t.timer_id for t in again.arm] == [t.timer_id for t in first.arm] == [retry_timer_id(lost, 2)]
    assert again.arm[0].due_at == first.arm[0].due_at
    assert armed_again_after_s >= GRACE_S and datetime.now(UTC) >= first.arm[0].due_at
    assert len(others) == 1  # due in an hour: armed once, left alone

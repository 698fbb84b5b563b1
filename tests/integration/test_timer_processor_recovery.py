"""kill -9 of the timer processor with 1,000 timers pending: each fires once, none early."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from jobstream.clock import new_job_id
from jobstream.config import Settings
from jobstream.infra.topics import Topics
from jobstream.schemas import (
    Jitter,
    JobQueued,
    JobRetryScheduled,
    JobSpec,
    Outcome,
    ReportFinished,
    ReportStarted,
    RetryPolicy,
    ShellTask,
    SubmitJob,
)
from jobstream.streams.kafka_io import Publisher, command_envelope
from tests.integration.harness import ServiceProcess, TopicReader

TIMERS = 1000
BACKOFF_S = 8.0


def _fail_once(publisher: Publisher, job_id: str) -> None:
    """Submit a job with a retry policy, then act as its worker: start it and fail it."""
    policy = RetryPolicy(max_attempts=2, initial_backoff_s=BACKOFF_S, max_backoff_s=BACKOFF_S, jitter=Jitter.NONE)
    spec = JobSpec(name="retry-me", queue="nobody", task=ShellTask(argv=["false"]), retry=policy)
    publisher.send_command(SubmitJob(envelope=command_envelope(SubmitJob, job_id, "test"), spec=spec))
    lease = dict(execution_id=f"{job_id}.1", attempt=1, worker_id="test-worker")
    publisher.send_command(ReportStarted(envelope=command_envelope(ReportStarted, job_id, "test"), **lease))
    publisher.send_command(ReportFinished(envelope=command_envelope(ReportFinished, job_id, "test"),
                                          outcome=Outcome.FAILED, exit_code=1, **lease))
    publisher.poll(0)


def test_kill_9_with_pending_timers(test_settings: Settings, topics_ready: Topics,
                                    services: dict[str, ServiceProcess], tmp_path: Path) -> None:
    timers_args = ["timer-processor", "--instance-id", "timers-1"]
    services["sp"] = ServiceProcess("state-processor", ["state-processor"], test_settings, tmp_path).start()
    services["timers-1"] = ServiceProcess("timers-1", timers_args, test_settings, tmp_path).start()
    reader = TopicReader(test_settings, topics_ready.events)
    publisher = Publisher(test_settings)

    # Given 1,000 jobs waiting on a retry timer
    jobs = [new_job_id() for _ in range(TIMERS)]
    for job_id in jobs:
        _fail_once(publisher, job_id)
    publisher.flush()
    reader.wait_for(lambda records: sum(isinstance(r, JobRetryScheduled) for r in records) >= TIMERS, 90,
                    "every retry to be scheduled")
    retry_at = {r.envelope.job_id: r.retry_at for r in reader.records if isinstance(r, JobRetryScheduled)}

    # When the timer processor is killed before they are due, and restarted
    services["timers-1"].kill()
    fired_before_kill = sum(isinstance(r, JobQueued) and r.attempt == 2 for r in reader.records)
    services["timers-2"] = ServiceProcess("timers-2", timers_args, test_settings, tmp_path).start()

    # Then every timer fires exactly once, and never before it is due
    reader.wait_for(lambda records: sum(isinstance(r, JobQueued) and r.attempt == 2 for r in records) >= TIMERS,
                    120, "every timer to fire")
    reader.drain(quiet_s=1.0)
    requeued = [r for r in reader.records if isinstance(r, JobQueued) and r.attempt == 2]
    per_job = Counter(r.envelope.job_id for r in requeued)
    assert set(per_job) == set(jobs) and set(per_job.values()) == {1}
    assert all(r.envelope.occurred_at >= retry_at[r.envelope.job_id] for r in requeued), "a timer fired early"
    lateness = sorted((r.envelope.occurred_at - retry_at[r.envelope.job_id]).total_seconds() for r in requeued)
    print(f"fired before the kill: {fired_before_kill}; lateness p50 {lateness[len(lateness) // 2]:.3f}s "
          f"max {lateness[-1]:.3f}s (includes the restart)")

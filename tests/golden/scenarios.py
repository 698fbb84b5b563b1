"""The golden scenarios, played on the pure stage (``stage.py``); ``record.py`` writes their histories.

Each is a real use of jobstream end to end, with the times, ids and actors the live pipeline
would give it (commands from the API, workers, the timer processor and the worker monitor).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from jobstream.schemas import (
    CancelJob,
    ConcurrencyPolicy,
    Dependency,
    DependencyCondition,
    JobPatch,
    JobSpec,
    MisfirePolicy,
    Outcome,
    PauseJob,
    ReportProgress,
    ResumeJob,
    RetryPolicy,
    Schedule,
    ShellTask,
    SubmitJob,
    UpdateJob,
    WorkerHeartbeat,
    WorkerRegistered,
)

from .stage import Stage

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SKIP = MisfirePolicy.SKIP


def shell(name: str, *argv: str, **fields: object) -> JobSpec:
    return JobSpec(name=name, task=ShellTask(argv=list(argv or ("true",))), labels={"team": "golden"}, **fields)


def plain_job() -> Stage:
    """Submitted, queued, started, half way, completed with a result."""
    stage = Stage(T0)
    stage.send(SubmitJob, "plain", spec=shell("hello", "echo", "hello"))
    stage.wait(1)
    stage.start("plain", "worker-1")
    stage.wait(1)
    stage.send(ReportProgress, "plain", "worker", percent=50.0, message="half way",
               **stage.lease("plain", "worker-1"))
    stage.wait(1)
    stage.finish("plain", result_json='{"greeting": "hello"}', stdout_tail="hello\n")
    return stage


def retries_then_dlq() -> Stage:
    """Three tries that exit 1, each retried after its backoff, then dead-lettered."""
    stage = Stage(T0)
    retry = RetryPolicy(max_attempts=3, initial_backoff_s=5.0, max_backoff_s=60.0)
    stage.send(SubmitJob, "flaky", spec=shell("flaky", "false", retry=retry))
    for _ in range(3):
        stage.run("flaky", outcome=Outcome.FAILED, exit_code=1, stderr_tail="boom\n")
        stage.wait(60)  # the retry timer fires on the way
    return stage


def cron_with_skips() -> Stage:
    """Every minute, no overlap: a fire while the run goes on is skipped; fires missed while the
    timer processor was down are skipped by the misfire policy; then the schedule is cancelled."""
    stage = Stage(T0 + timedelta(seconds=30))
    schedule = Schedule(cron="* * * * *", concurrency=ConcurrencyPolicy.FORBID, misfire=SKIP)
    stage.send(SubmitJob, "every-minute", spec=shell("tick", "date", schedule=schedule))
    stage.wait(35)  # 09:01 fires run 1
    run = stage.states["every-minute"].active_runs[0]
    stage.start(run, "worker-1")
    stage.wait(60)  # 09:02: run 1 still going, skipped (overlap)
    stage.finish(run)
    stage.wait(60)  # 09:03 fires run 2
    stage.run(stage.states["every-minute"].active_runs[0])
    stage.outage(200)  # 09:04 to 09:06 pass unfired
    stage.wait(1)  # the late fires: skipped (misfire)
    stage.send(CancelJob, "every-minute", reason="no longer needed")
    return stage


def dag_upstream_failed() -> Stage:
    """extract fails: transform (needs it to succeed) is cancelled as upstream_failed, and so is
    load after it; report (needs it completed, either way) runs."""
    stage = Stage(T0)
    stage.send(SubmitJob, "extract", spec=shell("extract", "false"))
    stage.send(SubmitJob, "transform", spec=shell("transform", depends_on=[Dependency(job_id="extract")]))
    stage.send(SubmitJob, "load", spec=shell("load", depends_on=[Dependency(job_id="transform")]))
    completed = Dependency(job_id="extract", condition=DependencyCondition.COMPLETED)
    stage.send(SubmitJob, "report", spec=shell("report", depends_on=[completed]))
    stage.wait(1)
    stage.run("extract", outcome=Outcome.FAILED, exit_code=2)
    stage.wait(1)
    stage.run("report", "worker-2")
    return stage


def worker_lost_and_requeued() -> Stage:
    """The worker running the job stops sending heartbeats: the monitor declares it lost, the
    job's lease expires and its next attempt runs on another worker."""
    stage = Stage(T0)
    for worker_id in ("worker-1", "worker-2"):
        stage.worker_event(WorkerRegistered, worker_id, hostname=f"{worker_id}.golden", pid=100, queues=["default"],
                           slots=4, cpu=2.0, memory_mb=4096, labels={"zone": "a"})
    stage.send(SubmitJob, "report", spec=shell("report", "make", "report"))
    stage.start("report", "worker-1")
    seen = stage.now
    stage.worker_event(WorkerHeartbeat, "worker-1", running=[stage.states["report"].execution_id or ""],
                       free_slots=3)
    stage.wait(8)
    stage.lose_worker("worker-1", last_heartbeat_at=seen)
    stage.wait(1)
    stage.run("report", "worker-2")
    return stage


def patch_and_pause() -> Stage:
    """A schedule every 5 minutes is patched (priority, env, then its interval), paused past a
    due time (skipped as paused on resume) and resumed; its next fire runs."""
    stage = Stage(T0)
    spec = shell("nightly", "backup", "--all", queue="batch", schedule=Schedule(every_s=300.0, misfire=SKIP))
    stage.send(SubmitJob, "nightly", spec=spec)
    stage.wait(60)
    stage.send(UpdateJob, "nightly", patch=JobPatch(priority=8, env={"MODE": "full"}))
    stage.send(UpdateJob, "nightly", patch=JobPatch(schedule=Schedule(every_s=240.0, misfire=SKIP)))
    stage.send(PauseJob, "nightly")
    stage.wait(300)  # its due time passes while paused
    stage.send(ResumeJob, "nightly")
    stage.wait(240)  # the next fire: run 1
    stage.run(stage.states["nightly"].active_runs[-1])
    return stage


SCENARIOS: dict[str, Callable[[], Stage]] = {
    "plain-job": plain_job,
    "retries-then-dlq": retries_then_dlq,
    "cron-with-skips": cron_with_skips,
    "dag-upstream-failed": dag_upstream_failed,
    "worker-lost-and-requeued": worker_lost_and_requeued,
    "patch-and-pause": patch_and_pause,
}

"""The pure projection: each event's effect on job, execution, event and worker rows; duplicates."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings

from jobstream.core import lifecycle
from jobstream.core.decide import decide, retry_timer_id
from jobstream.core.state import JobState, evolve
from jobstream.projections.batch import Batch, wanted
from jobstream.projections.mapping import JobChange, project_job_event, project_worker_event
from jobstream.projections.rows import ExecutionRow, JobRow, WorkerRow
from jobstream.schemas import (
    AssignJob,
    CancelJob,
    Command,
    CommandRejected,
    Envelope,
    ExpireExecution,
    FireTimer,
    JobEvent,
    JobPatch,
    JobPaused,
    JobPending,
    JobResumed,
    JobScheduled,
    JobUpdated,
    Outcome,
    ReportFinished,
    ReportProgress,
    ReportStarted,
    RetryJob,
    ReturnAssignment,
    ScheduleFired,
    ScheduleSkipped,
    SkipReason,
    SubmitJob,
    TimerPurpose,
    WorkerDeregistered,
    WorkerDraining,
    WorkerEnvelope,
    WorkerEvent,
    WorkerHeartbeat,
    WorkerLost,
    WorkerRegistered,
)
from tests.unit.builders import T0, command, retrying, spec
from tests.unit.test_decide_properties import build, recipes

# ---------------------------------------------------------------- helpers


class Job:
    """Drives one job through decide/evolve and through the projection side by side."""

    def __init__(self, job_id: str = "job-1") -> None:
        self.state = JobState(job_id)
        self.batch = Batch()
        self.events: list[JobEvent] = []
        self.clock = T0

    def do(self, cls: type[Command], **fields: Any) -> list[JobEvent]:
        return self.send(command(cls, job_id=self.state.job_id, **fields))

    def send(self, cmd: Command) -> list[JobEvent]:
        self.clock += timedelta(seconds=1)
        return self.feed(decide(self.state, cmd, self.clock))

    def feed(self, events: list[JobEvent]) -> list[JobEvent]:
        for event in events:
            if event.envelope.seq == self.state.seq + 1:
                self.state = evolve(self.state, event)
            self.batch.apply(event)
        self.events += events
        return events

    def lease(self, **fields: Any) -> dict[str, Any]:
        return {"execution_id": self.state.execution_id, "attempt": self.state.attempt, "worker_id": "w1", **fields}

    def run_to_running(self, **spec_fields: Any) -> Job:
        self.do(SubmitJob, spec=spec(**spec_fields))
        self.do(AssignJob, **self.lease())
        self.do(ReportStarted, **self.lease(pid=7))
        return self

    def finish(self, outcome: Outcome, exit_code: int | None = 0, **fields: Any) -> list[Any]:
        return self.do(ReportFinished, **self.lease(outcome=outcome, exit_code=exit_code, **fields))

    def next_event(self, cls: type[JobEvent], **fields: Any) -> JobEvent:
        """A hand-made event (for those decide does not emit yet), stamped as the next in sequence."""
        self.clock += timedelta(seconds=1)
        seq = self.state.seq + 1
        envelope = Envelope(event_id=f"{self.state.job_id}:{seq}", job_id=self.state.job_id, seq=seq,
                            type=cls.short_name(), occurred_at=self.clock, actor="test")
        return cls(envelope=envelope, **fields)

    @property
    def row(self) -> JobRow:
        return self.batch.jobs[self.state.job_id]

    def execution(self, attempt: int | None = None) -> ExecutionRow:
        return self.batch.executions[f"{self.state.job_id}.{attempt or self.state.attempt}"]


def worker_event(cls: type[WorkerEvent], seq: int, at: datetime = T0, worker_id: str = "w1", **fields: Any) -> Any:
    envelope = WorkerEnvelope(event_id=f"{worker_id}:{seq}", worker_id=worker_id, seq=seq, type=cls.short_name(),
                              occurred_at=at, actor="worker")
    return cls(envelope=envelope, **fields)


def registered(seq: int = 1, at: datetime = T0) -> WorkerRegistered:
    return worker_event(WorkerRegistered, seq, at, hostname="h1", pid=99, queues=["default", "gpu"], slots=4,
                        cpu=8.0, memory_mb=16384, labels={"zone": "a"})


# ---------------------------------------------------------------- job rows


def test_submit_creates_a_pending_row_then_queued_with_its_first_execution() -> None:
    job = Job()
    job.do(SubmitJob, spec=spec(name="nightly", queue="q", priority=2, labels={"team": "data"},
                                idempotency_key="k1"))
    row = job.row
    assert (row.name, row.queue, row.priority, row.labels, row.idempotency_key) == (
        "nightly", "q", 2, {"team": "data"}, "k1")
    assert (row.status, row.seq, row.attempt, row.tries, row.execution_id) == ("queued", 2, 1, 1, "job-1.1")
    assert row.submitted_at == row.queued_at == row.updated_at == T0 + timedelta(seconds=1)
    assert row.spec is not None and row.spec["task"] == {"kind": "ShellTask", "argv": ["echo", "hi"], "env": {},
                                                          "cwd": None, "shell": False, "memory_limit_mb": None,
                                                          "cpu_limit_s": None}
    execution = job.execution()
    assert (execution.status, execution.attempt, execution.job_id, execution.queued_at) == (
        "queued", 1, "job-1", T0 + timedelta(seconds=1))


def test_assign_start_progress_complete_fill_the_job_and_its_execution() -> None:
    job = Job().run_to_running()
    assert (job.row.status, job.row.worker_id, job.row.started_at) == ("running", "w1", T0 + timedelta(seconds=3))
    assert job.execution().assigned_at == T0 + timedelta(seconds=2)
    job.do(ReportProgress, **job.lease(percent=40.0, message="halfway"))
    assert (job.execution().progress_percent, job.execution().progress_message) == (40.0, "halfway")
    assert job.row.status == "running" and job.row.seq == 5
    job.finish(Outcome.SUCCEEDED, result_json='{"rows": 3}', stdout_tail="out", stderr_tail="err", duration_ms=250)
    row, execution = job.row, job.execution()
    assert (row.status, row.exit_code, row.result_json, row.finished_at) == (
        "completed", 0, '{"rows": 3}', T0 + timedelta(seconds=5))
    assert (execution.status, execution.worker_id, execution.stdout_tail, execution.stderr_tail,
            execution.duration_ms, execution.finished_at) == ("succeeded", "w1", "out", "err", 250, row.finished_at)


def test_final_failure_marks_job_failed_and_execution_with_its_outcome() -> None:
    job = Job().run_to_running()
    job.finish(Outcome.TIMED_OUT, exit_code=None, error="took too long")
    assert (job.row.status, job.row.last_error, job.row.finished_at is not None) == ("failed", "took too long", True)
    assert (job.execution().status, job.execution().error) == ("timed_out", "took too long")


def test_retryable_failure_keeps_status_then_schedules_and_requeues_a_new_execution() -> None:
    job = Job().run_to_running(retry=retrying(max_attempts=2, initial=10.0))
    failed, retry = job.finish(Outcome.FAILED, exit_code=3)
    assert not failed.final
    assert (job.row.status, job.row.next_run_at, job.row.worker_id) == ("scheduled", retry.retry_at, None)
    assert (job.row.last_error, job.row.exit_code) == ("exited with code 3", 3)
    assert job.execution(1).status == "failed"

    job.do(FireTimer, timer_id=retry_timer_id("job-1", 2), due_at=retry.retry_at, purpose=TimerPurpose.RETRY)
    row = job.row
    assert (row.status, row.attempt, row.tries, row.execution_id, row.started_at, row.finished_at) == (
        "queued", 2, 2, "job-1.2", None, None)
    assert job.execution(2).status == "queued" and job.execution(1).status == "failed"


def test_dead_letter_fails_the_job_after_the_last_attempt() -> None:
    job = Job().run_to_running(retry=retrying(max_attempts=1))
    events = job.finish(Outcome.FAILED, exit_code=1)
    assert [e.envelope.type for e in events] == ["JobFailed", "JobDeadLettered"]
    assert job.row.status == "failed" and job.row.finished_at == events[0].envelope.occurred_at


def test_lost_execution_is_requeued_as_a_new_attempt() -> None:
    job = Job().run_to_running()
    job.do(ExpireExecution, **job.lease(reason="worker lost"))
    assert job.execution(1).status == "lost"
    assert (job.row.status, job.row.attempt, job.row.tries) == ("queued", 2, 2)


def test_cancel_cancels_the_current_unfinished_execution_only() -> None:
    job = Job().run_to_running()
    job.do(CancelJob)
    assert (job.row.status, job.execution().status) == ("cancelled", "cancelled")
    assert job.execution().finished_at == job.row.finished_at == job.clock

    done = Job()
    done.do(SubmitJob, spec=spec(retry=retrying(max_attempts=1)))
    done.do(AssignJob, **done.lease())
    done.do(ReportStarted, **done.lease())
    done.finish(Outcome.FAILED, exit_code=1)
    finished_at = done.execution().finished_at
    done.do(RetryJob)  # attempt 2 queued
    done.do(CancelJob)
    assert done.execution(2).status == "cancelled"
    assert (done.execution(1).status, done.execution(1).finished_at) == ("failed", finished_at)


def test_cancel_after_completion_is_a_rejection_that_only_adds_an_event_row() -> None:
    job = Job().run_to_running()
    job.finish(Outcome.SUCCEEDED)
    before = job.row
    [rejected] = job.do(CancelJob)
    assert isinstance(rejected, CommandRejected)
    assert job.row.status == "completed" and job.execution().status == "succeeded"
    assert (job.row.seq, job.row.updated_at) == (before.seq + 1, rejected.envelope.occurred_at)  # as evolve does
    assert job.batch.events[rejected.envelope.event_id].payload["command_type"] == "CancelJob"


def test_stale_report_adds_a_report_rejected_row_and_changes_nothing_else() -> None:
    job = Job().run_to_running()
    job.do(ExpireExecution, **job.lease(reason="worker lost"))
    before = job.execution(2)
    [rejected] = job.do(ReportFinished, execution_id="job-1.1", attempt=1, worker_id="w1", outcome=Outcome.SUCCEEDED)
    assert rejected.envelope.type == "ReportRejected"
    assert job.row.status == "queued" and job.execution(2) == before and job.execution(1).status == "lost"


def test_command_rejected_as_the_first_event_makes_an_event_row_and_no_job_row() -> None:
    job = Job("ghost")
    [rejected] = job.do(CancelJob)
    assert isinstance(rejected, CommandRejected) and rejected.envelope.seq == 1
    command_id = rejected.command_id
    assert "ghost" not in job.batch.jobs and not job.batch.changed_jobs
    event = job.batch.events["ghost:1"]
    assert (event.job_id, event.seq, event.type) == ("ghost", 1, "CommandRejected")
    assert event.payload == {"command_id": command_id, "command_type": "CancelJob",
                             "reason": "job ghost does not exist", "reply_to": None}
    assert list(job.batch.notify_job_ids) == ["ghost"]  # a waiting client still hears about it

    job.do(SubmitJob, spec=spec())  # a later submit of the same id starts at seq 2
    assert (job.row.seq, job.row.status) == (3, "queued")


def test_hand_made_lifecycle_events_scheduled_paused_resumed_pending_fired_skipped() -> None:
    job = Job()
    job.do(SubmitJob, spec=spec())
    at = T0 + timedelta(hours=1)
    job.feed([job.next_event(JobScheduled, next_run_at=at)])
    assert (job.row.status, job.row.next_run_at) == ("scheduled", at)
    job.feed([job.next_event(JobPaused)])
    assert job.row.status == "paused"
    later = T0 + timedelta(hours=2)
    job.feed([job.next_event(JobResumed, next_run_at=later)])
    assert (job.row.status, job.row.next_run_at) == ("scheduled", later)
    job.feed([job.next_event(JobPending, waiting_on=["up-1"])])
    assert job.row.status == "pending"
    job.feed([job.next_event(ScheduleFired, due_at=later, run_number=1)])
    assert job.row.tries == 0
    skipped = job.next_event(ScheduleSkipped, due_at=later, reason=SkipReason.OVERLAP)
    job.feed([skipped])
    assert job.row.status == "pending" and job.row.seq == skipped.envelope.seq
    assert job.batch.events[skipped.envelope.event_id].payload == {"due_at": later.isoformat(), "reason": "overlap"}


def test_update_patches_the_spec_json_queue_priority_and_shell_env() -> None:
    job = Job()
    job.do(SubmitJob, spec=spec(queue="q1", priority=5))
    job.feed([job.next_event(JobUpdated, patch=JobPatch(priority=1, queue="q2", env={"A": "1"},
                                                      retry=retrying(max_attempts=4)))])
    row = job.row
    assert (row.queue, row.priority) == ("q2", 1)
    assert row.spec is not None
    assert (row.spec["queue"], row.spec["priority"], row.spec["task"]["env"]) == ("q2", 1, {"A": "1"})
    assert row.spec["retry"]["max_attempts"] == 4 and row.spec["timeout_s"] is None  # null patch fields: unchanged


@pytest.mark.parametrize("script", ["happy", "retry", "lost", "cancel", "rejections", "returned"])
def test_job_row_mirrors_the_core_state(script: str) -> None:
    job = Job()
    if script == "rejections":
        job.do(AssignJob, execution_id="x", attempt=1, worker_id="w1")
    job.run_to_running(retry=retrying(max_attempts=3, initial=1.0))
    if script == "retry":
        _, retry = job.finish(Outcome.FAILED, exit_code=2)
        job.do(FireTimer, timer_id=retry_timer_id("job-1", 2), due_at=retry.retry_at, purpose=TimerPurpose.RETRY)
    elif script == "lost":
        job.do(ExpireExecution, **job.lease(reason="lost"))
        job.do(AssignJob, **job.lease(worker_id="w2"))
    elif script == "cancel":
        job.do(CancelJob)
    elif script == "returned":
        job.do(ReturnAssignment, **job.lease(reason="no free slot"))
        job.do(AssignJob, **job.lease(worker_id="w2"))
    else:
        job.finish(Outcome.SUCCEEDED)
    state, row = job.state, job.row
    assert (row.seq, row.status, row.attempt, row.tries, row.execution_id, row.worker_id, row.last_error,
            row.submitted_at, row.updated_at) == (
        state.seq, state.status, state.attempt, state.tries, state.execution_id, state.worker_id, state.last_error,
        state.submitted_at, state.updated_at)


@settings(max_examples=300, deadline=None)
@given(recipes)
def test_any_history_moves_the_row_and_the_state_through_the_same_lifecycle(steps: list[tuple[Any, ...]]) -> None:
    # Given any command sequence decided on one job; when its events fold into the state and the row,
    # then after every event the row's lifecycle fields are the state's (one transition, two folds).
    job = Job()
    for kind, offset, outcome, code, with_retry in steps:
        job.send(build(kind, job.state, offset, outcome, code, with_retry))
        if job.state.exists:
            assert _lifecycle(job.row) == _lifecycle(job.state)


def _lifecycle(row_or_state: Any) -> tuple[Any, ...]:
    return tuple(getattr(row_or_state, name) for name in lifecycle.FIELDS)


def test_a_returned_execution_ends_as_returned_and_the_next_attempt_is_queued() -> None:
    job = Job().run_to_running()
    job.do(ExpireExecution, **job.lease(reason="lost"))  # attempt 2 queued
    job.do(AssignJob, **job.lease(worker_id="w2"))
    job.do(ReturnAssignment, **job.lease(worker_id="w2", reason="no free slot (1 of 1 in use)"))
    returned = job.execution(2)
    assert (returned.status, returned.worker_id, returned.error) == ("returned", "w2", "no free slot (1 of 1 in use)")
    assert (job.row.status, job.row.attempt, job.row.tries, job.execution().status) == ("queued", 3, 2, "queued")


# ---------------------------------------------------------------- event rows


def test_event_rows_carry_the_envelope_and_a_json_safe_payload() -> None:
    job = Job()
    submitted, queued = job.do(SubmitJob, spec=spec(retry=retrying()))
    row = job.batch.events[submitted.envelope.event_id]
    assert (row.event_id, row.job_id, row.seq, row.type, row.occurred_at, row.actor, row.causation_id) == (
        "job-1:1", "job-1", 1, "JobSubmitted", submitted.envelope.occurred_at, "test", submitted.envelope.causation_id)
    assert "envelope" not in row.payload
    assert row.payload["spec"]["retry"]["jitter"] == "full" and type(row.payload["spec"]["retry"]["jitter"]) is str
    assert json.loads(json.dumps(row.payload)) == row.payload
    assert job.batch.events[queued.envelope.event_id].payload == {
        "queue": "default", "priority": 5, "attempt": 1, "execution_id": "job-1.1"}


# ---------------------------------------------------------------- duplicates


def test_duplicates_are_skipped_by_seq_in_one_batch_and_across_batches() -> None:
    job = Job().run_to_running()
    events = list(job.events)
    assert job.batch.applied == len(events)
    for event in events:  # the same events again, in the same batch
        assert job.batch.apply(event) is False
    assert job.batch.duplicates == len(events)

    # a later batch starts from the rows as stored: nothing the row already reflects applies again
    stored = Batch.loaded(job.batch.jobs.values(), job.batch.executions.values(), [])
    assert [stored.apply(e) for e in events] == [False] * len(events)
    assert not stored.changed_jobs and not stored.events and not stored.notify_job_ids


def test_project_job_event_returns_none_for_an_applied_seq() -> None:
    job = Job()
    submitted, _ = job.do(SubmitJob, spec=spec())
    assert project_job_event(job.row, None, submitted) is None
    change = project_job_event(None, None, submitted)
    assert isinstance(change, JobChange) and change.job is not None and change.job.seq == 1


def test_wanted_names_the_rows_to_load() -> None:
    job = Job().run_to_running()
    beats = [worker_event(WorkerHeartbeat, 2, free_slots=3)]
    want = wanted([*job.events, *beats])
    assert (want.job_ids, want.worker_ids, want.execution_ids) == (["job-1"], ["w1"], ["job-1.1"])


# ---------------------------------------------------------------- workers


def test_worker_lifecycle() -> None:
    row = project_worker_event(None, registered())
    assert row == WorkerRow(worker_id="w1", seq=1, status="active", updated_at=T0, hostname="h1", pid=99,
                            queues=["default", "gpu"], slots=4, cpu=8.0, memory_mb=16384, labels={"zone": "a"},
                            running=[], free_slots=4, registered_at=T0, last_heartbeat_at=None)
    beat_at = T0 + timedelta(seconds=5)
    row = project_worker_event(row, worker_event(WorkerHeartbeat, 2, beat_at, running=["job-1.1"], free_slots=3))
    assert row is not None
    assert (row.last_heartbeat_at, row.running, row.free_slots, row.updated_at) == (beat_at, ["job-1.1"], 3, beat_at)
    row = project_worker_event(row, worker_event(WorkerDraining, 3, beat_at))
    assert row is not None and row.status == "draining"
    row = project_worker_event(row, worker_event(WorkerDeregistered, 4, beat_at))
    assert row is not None and (row.status, row.seq) == ("deregistered", 4)


def test_worker_lost_keeps_the_latest_heartbeat() -> None:
    row = project_worker_event(None, registered())
    row = project_worker_event(row, worker_event(WorkerHeartbeat, 2, T0 + timedelta(seconds=9), free_slots=4))
    lost = worker_event(WorkerLost, 3, T0 + timedelta(seconds=60), last_heartbeat_at=T0 + timedelta(seconds=9),
                        reason="no heartbeat for 30s")
    row = project_worker_event(row, lost)
    assert row is not None and (row.status, row.last_heartbeat_at) == ("lost", T0 + timedelta(seconds=9))


def test_worker_duplicates_are_skipped_by_seq() -> None:
    batch = Batch()
    first, beat = registered(), worker_event(WorkerHeartbeat, 2, T0, free_slots=1)
    assert [batch.apply(e) for e in (first, beat, first, beat)] == [True, True, False, False]
    assert batch.workers["w1"].seq == 2 and batch.workers["w1"].free_slots == 1

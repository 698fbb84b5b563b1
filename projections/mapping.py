"""The pure mapping from one event to the read model's rows: current rows and event in, new rows out.

The job row's lifecycle (status, attempt, tries, execution and worker ids, last error, runs) moves
by ``core.lifecycle.transition``, the rule ``core.state.evolve`` applies; the mapping adds what a
reader wants to see: timestamps, exit code, result, executions.
Every value comes from the event (timestamps from ``envelope.occurred_at``, never the clock), so a
replay rebuilds identical rows. An event whose seq the row has already reached is a duplicate:
the functions return None and nothing changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jobstream.core.lifecycle import transition
from jobstream.schemas import (
    JobAssigned,
    JobCancelled,
    JobCompleted,
    JobDeadLettered,
    JobEvent,
    JobFailed,
    JobPatch,
    JobProgressed,
    JobQueued,
    JobResumed,
    JobRetryScheduled,
    JobReturned,
    JobScheduled,
    JobStarted,
    JobSubmitted,
    JobUpdated,
    ScheduleEnded,
    ShellTask,
    WorkerDeregistered,
    WorkerDraining,
    WorkerEvent,
    WorkerHeartbeat,
    WorkerLost,
    WorkerRegistered,
)

from .payload import KIND, finite, json_safe, record_json
from .rows import UNFINISHED_EXECUTION, EventRow, ExecutionRow, ExecutionStatus, JobRow, WorkerRow, WorkerStatus

# Events about an execution that name it; a cancel changes the job's current one instead.
EXECUTION_EVENTS = (JobQueued, JobAssigned, JobStarted, JobProgressed, JobCompleted, JobFailed, JobReturned)
_ENVELOPE = frozenset({"envelope"})


@dataclass(frozen=True, slots=True)
class JobChange:
    """What one job event writes: the job row (None: the job has no row), an execution, the event."""

    job: JobRow | None
    execution: ExecutionRow | None
    event: EventRow


def execution_target(job: JobRow | None, event: JobEvent) -> str | None:
    """The execution row an event changes, so the caller can load it first."""
    if isinstance(event, EXECUTION_EVENTS):
        return event.execution_id or None
    if isinstance(event, JobCancelled) and job is not None:
        return job.execution_id
    return None


def project_job_event(job: JobRow | None, execution: ExecutionRow | None, event: JobEvent) -> JobChange | None:
    """The rows ``event`` writes, given the job's row and its target execution's row; None if a duplicate."""
    envelope = event.envelope
    if job is not None and envelope.seq <= job.seq:
        return None
    row = event_row(event)
    if job is None and not isinstance(event, JobSubmitted):
        return JobChange(None, None, row)  # before its submission: a rejected command, a dependent registered
    base = job or JobRow(job_id=envelope.job_id, seq=0, updated_at=envelope.occurred_at)
    return JobChange(_job(base, event), _execution(execution, event), row)


def event_row(event: JobEvent) -> EventRow:
    e = event.envelope
    return EventRow(e.event_id, e.job_id, e.seq, e.type, e.occurred_at, e.actor, e.causation_id,
                    e.correlation_id, record_json(event, _ENVELOPE), e.namespace)


def _job(row: JobRow, event: JobEvent) -> JobRow:
    """The lifecycle's changes (``core.lifecycle.transition``, as ``evolve`` applies them), the
    reader's own and the new seq, in one ``_replace``."""
    envelope = event.envelope
    changes = {"seq": envelope.seq, "updated_at": envelope.occurred_at}
    changes.update(transition(row.status, row.tries, event) or ())
    changes.update(_own_changes(row, event) or ())
    return row._replace(**changes)


def _own_changes(row: JobRow, event: JobEvent) -> dict[str, Any] | None:  # noqa: C901 - one arm per event type
    """What only the row shows: what the job is, when things happened, how its last try ended."""
    at = event.envelope.occurred_at
    match event:
        case JobSubmitted(spec=spec):
            return {"name": spec.name, "queue": spec.queue, "priority": spec.priority, "spec": record_json(spec),
                    "labels": dict(spec.labels), "idempotency_key": spec.idempotency_key, "submitted_at": at,
                    "parent_job_id": spec.run_of.parent_job_id if spec.run_of else None,
                    "namespace": event.envelope.namespace, "submitted_by": event.envelope.actor}
        case JobScheduled(next_run_at=next_run_at) | JobResumed(next_run_at=next_run_at):
            return {"next_run_at": next_run_at}
        case JobRetryScheduled(retry_at=retry_at):
            return {"next_run_at": retry_at}
        case JobQueued():
            return {"queue": event.queue, "priority": event.priority, "queued_at": at, "started_at": None,
                    "finished_at": None, "next_run_at": None}
        case JobStarted():
            return {"started_at": at}
        case JobCompleted():
            return {"exit_code": event.exit_code, "result_json": event.result_json, "finished_at": at}
        case JobFailed(final=True):
            return {"exit_code": event.exit_code, "finished_at": at}
        case JobFailed():  # a retry or a requeue follows in the same decision
            return {"exit_code": event.exit_code}
        case JobDeadLettered():
            return {"finished_at": row.finished_at or at}
        case JobCancelled():
            return {"finished_at": at, "next_run_at": None}
        case JobUpdated(patch=patch) if row.spec is not None:
            spec = patch_spec(row.spec, patch)
            return {"spec": spec, "queue": spec.get("queue"), "priority": spec.get("priority"),
                    "labels": dict(spec.get("labels") or {})}
        case ScheduleEnded():
            return {"next_run_at": None, "finished_at": at}
    return None  # the lifecycle's alone, or only seq and updated_at move (JobProgressed, rejections, ...)


def patch_spec(spec: dict[str, Any], patch: JobPatch) -> dict[str, Any]:
    """``core.patch.apply_patch`` on the spec's JSON form: null fields leave it as it is."""
    changes = record_json(patch, frozenset({"env"}))
    out = {**spec, **{name: value for name, value in changes.items() if value is not None}}
    task = spec.get("task")
    if patch.env is not None and isinstance(task, dict) and task.get(KIND) == ShellTask.short_name():
        out["task"] = {**task, "env": {**task.get("env", {}), **json_safe(patch.env)}}
    return out


def _execution(current: ExecutionRow | None, event: JobEvent) -> ExecutionRow | None:  # noqa: C901
    at = event.envelope.occurred_at
    match event:
        case JobQueued():
            return ExecutionRow(event.execution_id, event.envelope.job_id, event.attempt, ExecutionStatus.QUEUED,
                                queued_at=at)
        case JobAssigned():
            return _or_new(current, event)._replace(status=ExecutionStatus.ASSIGNED, worker_id=event.worker_id,
                                                    assigned_at=at)
        case JobStarted():
            return _or_new(current, event)._replace(status=ExecutionStatus.RUNNING, worker_id=event.worker_id,
                                                    started_at=at)
        case JobProgressed():
            return _or_new(current, event)._replace(progress_percent=finite(event.percent),
                                                    progress_message=event.message)
        case JobCompleted():
            return _or_new(current, event)._replace(status=ExecutionStatus.SUCCEEDED, finished_at=at,
                           exit_code=event.exit_code, result_json=event.result_json, stdout_tail=event.stdout_tail,
                           stderr_tail=event.stderr_tail, duration_ms=event.duration_ms, log_records=event.log_records)
        case JobFailed() if event.execution_id:
            return _or_new(current, event)._replace(status=ExecutionStatus(event.outcome), finished_at=at,
                           exit_code=event.exit_code, error=event.error, stdout_tail=event.stdout_tail,
                           stderr_tail=event.stderr_tail, duration_ms=event.duration_ms, log_records=event.log_records)
        case JobReturned():
            return _or_new(current, event)._replace(status=ExecutionStatus.RETURNED, worker_id=event.worker_id,
                                                    finished_at=at, error=event.reason)
        case JobCancelled() if current is not None and current.status in UNFINISHED_EXECUTION:
            return current._replace(status=ExecutionStatus.CANCELLED, finished_at=at)
    return None


def _or_new(current: ExecutionRow | None, event: Any) -> ExecutionRow:
    """The execution's row; rebuilt from the event if its JobQueued never reached us."""
    if current is not None:
        return current
    return ExecutionRow(event.execution_id, event.envelope.job_id, event.attempt, ExecutionStatus.QUEUED)


def project_worker_event(worker: WorkerRow | None, event: WorkerEvent) -> WorkerRow | None:
    """The worker's new row; None if the event is a duplicate (seq already applied)."""
    envelope = event.envelope
    if worker is not None and envelope.seq <= worker.seq:
        return None
    at = envelope.occurred_at
    base = worker or WorkerRow(worker_id=envelope.worker_id, seq=0, status=WorkerStatus.ACTIVE, updated_at=at)
    base = base._replace(seq=envelope.seq, updated_at=at, namespace=envelope.namespace)
    match event:
        case WorkerRegistered():
            return base._replace(status=WorkerStatus.ACTIVE, hostname=event.hostname, pid=event.pid,
                           queues=list(event.queues), slots=event.slots, cpu=finite(event.cpu),
                           memory_mb=event.memory_mb, labels=dict(event.labels), running=[],
                           free_slots=event.slots, registered_at=at)
        case WorkerHeartbeat():
            return base._replace(last_heartbeat_at=at, running=list(event.running), free_slots=event.free_slots)
        case WorkerDraining():
            return base._replace(status=WorkerStatus.DRAINING)
        case WorkerDeregistered():
            return base._replace(status=WorkerStatus.DEREGISTERED)
        case WorkerLost(last_heartbeat_at=seen):
            last = max(seen, base.last_heartbeat_at) if base.last_heartbeat_at else seen
            return base._replace(status=WorkerStatus.LOST, last_heartbeat_at=last)
    return base

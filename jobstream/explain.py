"""``jobstream explain JOB_ID``: one paragraph saying why a job has not run (or what became of it),
from what the API shows: the job, its events, its upstreams, the live workers of its queue, the
jobs running there and the queue limits. Pure: the CLI gathers the evidence, ``explain`` reasons.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from jobstream.tables import cell

Row = Mapping[str, Any]
UNFINISHED = {"pending", "scheduled", "queued", "assigned", "running", "paused"}


@dataclass(frozen=True)
class Evidence:
    job: Row
    events: Sequence[Row] = ()
    upstreams: Mapping[str, Row | None] = field(default_factory=dict)  # job id -> its row, None if unknown
    workers: Sequence[Row] = ()  # active workers serving the job's queue
    running_in_queue: int = 0  # the queue's executions running now (for its limit)
    queue_limit: int | None = None  # JOBSTREAM_QUEUE_LIMITS' cap for the queue, if any
    ahead_in_queue: int = 0  # queued jobs of the queue submitted before this one


def explain(evidence: Evidence) -> str:
    """Why the job has not run, or what it is doing: one paragraph."""
    job = evidence.job
    status = str(job.get("status") or "unknown")
    head = f"Job {job.get('job_id')} ({job.get('name')}) is {status}"
    reasons = {"pending": _pending, "scheduled": _scheduled, "paused": _paused, "queued": _queued,
               "assigned": _running, "running": _running}
    reason = reasons.get(status, _finished)(evidence)
    return f"{head}: {reason}"


def _when(job: Row, column: str) -> str:
    return cell(column, job.get(column)) or "an unknown time"


def _last(events: Sequence[Row], *types: str) -> Row | None:
    return next((event for event in reversed(events) if event.get("type") in types), None)


def _pending(evidence: Evidence) -> str:
    waiting = []
    for job_id, row in evidence.upstreams.items():
        if row is None:
            waiting.append(f"{job_id} (not submitted yet)")
        elif row.get("status") in UNFINISHED:
            waiting.append(f"{job_id} ({row.get('status')})")
    condition = {d.get("job_id"): d.get("condition", "succeeded")
                 for d in (evidence.job.get("spec") or {}).get("depends_on") or []}
    if not waiting:
        return ("its upstreams have all finished; it is queued as soon as the state processor has their "
                "news (check again in a moment)")
    needs = "succeed" if all(c == "succeeded" for c in condition.values()) else "finish"
    return (f"it waits for {len(waiting)} of its {len(evidence.upstreams)} upstream jobs to {needs}: "
            f"{', '.join(waiting[:5])}{' and more' if len(waiting) > 5 else ''}. It runs once they have; if one "
            "cannot satisfy it, it is cancelled as upstream_failed.")


def _scheduled(evidence: Evidence) -> str:
    job = evidence.job
    retry = _last(evidence.events, "JobRetryScheduled", "JobQueued", "JobStarted")
    if retry is not None and retry.get("type") == "JobRetryScheduled":
        payload = retry.get("payload") or {}
        return (f"attempt {job.get('attempt')} failed ({job.get('last_error') or 'no error recorded'}) and its "
                f"retry policy runs it again at {cell('retry_at', payload.get('retry_at'))}.")
    schedule = (job.get("spec") or {}).get("schedule") or {}
    what = (f"cron {schedule['cron']!r} ({schedule.get('timezone') or 'UTC'})" if schedule.get("cron")
            else f"every {schedule['every']}" if schedule.get("every") else f"at {schedule.get('at')}")
    skipped = _last(evidence.events, "ScheduleSkipped")
    note = ""
    if skipped is not None:
        note = f" Its last skipped due time was skipped because {(skipped.get('payload') or {}).get('reason')}."
    return (f"it waits for its schedule ({what}); the next run is at {_when(job, 'next_run_at')}, "
            f"{job.get('runs') or 0} runs so far.{note}")


def _paused(evidence: Evidence) -> str:
    paused = _last(evidence.events, "JobPaused")
    since = cell("occurred_at", paused.get("occurred_at")) if paused else "an unknown time"
    return f"it was paused at {since} and fires nothing until `jobstream resume {evidence.job.get('job_id')}`."


def _queued(evidence: Evidence) -> str:
    job, workers = evidence.job, evidence.workers
    queue = job.get("queue")
    if job.get("waiting_reason"):
        return f"{job['waiting_reason']} (the dispatcher places it as soon as one can)."
    if not workers:
        return f"no live worker serves queue {queue}: start one with `jobstream worker --queue {queue}`."
    if evidence.queue_limit is not None and evidence.running_in_queue >= evidence.queue_limit:
        return (f"queue {queue} is at its limit of {evidence.queue_limit} executions in flight "
                f"(JOBSTREAM_QUEUE_LIMITS); it runs when one of the {evidence.running_in_queue} running ends.")
    free = sum(int(w.get("free_slots") or 0) for w in workers)
    slots = sum(int(w.get("slots") or 0) for w in workers)
    if free == 0:
        return (f"all {slots} slots of the {len(workers)} live workers serving queue {queue} are busy; it runs "
                f"when one frees up, after {evidence.ahead_in_queue} queued jobs submitted before it (priority "
                f"{job.get('priority')}, which ages by one level per aging step).")
    return (f"it was queued at {_when(job, 'queued_at')} and {free} of {slots} slots are free on queue {queue}: "
            "it should start within moments; if it does not, check the dispatcher's log and "
            "`jobstream kafka consumer-groups --describe --group <prefix>.dispatcher` for lag.")


def _running(evidence: Evidence) -> str:
    job = evidence.job
    return (f"execution {job.get('execution_id')} runs on worker {job.get('worker_id')} since "
            f"{_when(job, 'started_at')} (`jobstream logs -f {job.get('job_id')}` follows it).")


def _finished(evidence: Evidence) -> str:
    job = evidence.job
    status = job.get("status")
    if status == "completed":
        return f"it ran and completed at {_when(job, 'finished_at')}."
    if status == "failed":
        return (f"it ran {job.get('tries') or 1} time(s) and failed at {_when(job, 'finished_at')}: "
                f"{job.get('last_error') or 'no error recorded'} (`jobstream retry {job.get('job_id')}`).")
    if status == "cancelled":
        cancelled = _last(evidence.events, "JobCancelled")
        reason = (cancelled.get("payload") or {}).get("reason") if cancelled else None
        return f"it was cancelled ({reason or 'no reason given'}) and will not run."
    return "jobstream knows nothing more about it."

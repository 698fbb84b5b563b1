"""``decide``'s handlers for dependencies between jobs (DAGs).

A job with ``depends_on`` waits in pending. Its upstreams may live on other partitions, so the
jobs talk through commands: the dependent sends each upstream a RegisterDependent, the upstream
records it (DependentRegistered, even before it is submitted itself) and, once it is final (at
once if it already is), answers with
NotifyUpstreamFinished. The dependent records each answer (UpstreamSettled) and queues itself
when the last upstream is satisfied, or is cancelled with reason ``upstream_failed`` when one can
no longer be; that cancellation is final too, so it travels on down the graph.
"""

from __future__ import annotations

import json

from jobstream.core.emit import Emitter, queue
from jobstream.core.state import JobState, Status
from jobstream.schemas import (
    DependencyCondition,
    DependentRegistered,
    JobCancelled,
    JobEvent,
    JobPending,
    JobSpec,
    NotifyUpstreamFinished,
    RegisterDependent,
    UpstreamSettled,
)

UPSTREAM_FAILED = "upstream_failed"
# What a job keeps of its upstreams' results, all together: each is at most 64 KiB (a larger one is
# already a {"ref": "logs", ...} marker), and a JobReady must stay well under Kafka's 1 MB message.
UPSTREAM_RESULTS_MAX_BYTES = 256 * 1024


def dependency_problem(job_id: str, spec: JobSpec) -> str | None:
    if not spec.depends_on:
        return None
    if spec.schedule is not None:
        return "depends_on: a job with a schedule cannot have dependencies"
    if any(dependency.job_id == job_id for dependency in spec.depends_on):
        return "depends_on: a job cannot depend on itself"
    return None


def upstream_ids(spec: JobSpec) -> list[str]:
    """Each upstream once, in the order given."""
    return list(dict.fromkeys(dependency.job_id for dependency in spec.depends_on))


def wait_for_upstreams(spec: JobSpec, emit: Emitter) -> list[JobEvent]:
    """After JobSubmitted: wait in pending (each upstream is then asked to tell this job)."""
    emit(JobPending, waiting_on=upstream_ids(spec))
    return emit.events


def register(state: JobState, command: RegisterDependent, emit: Emitter) -> list[JobEvent]:
    """Recorded even before the upstream exists: its submission may still be on its way (commands
    of different partitions are not ordered), and it keeps its dependents when it arrives."""
    if command.dependent_job_id in state.dependents:
        return []
    emit(DependentRegistered, dependent_job_id=command.dependent_job_id)
    return emit.events


def settle(state: JobState, command: NotifyUpstreamFinished, emit: Emitter) -> list[JobEvent]:
    """An upstream is final: record whether its condition holds, then queue or cancel the job."""
    upstream, status = command.upstream_job_id, command.upstream_status
    if state.status != Status.PENDING or upstream not in state.waiting_on or state.spec is None:
        return []
    satisfied = condition_holds(_condition(state.spec, upstream), status)
    emit(UpstreamSettled, upstream_job_id=upstream, upstream_status=status, satisfied=satisfied,
         upstream_result_json=kept_result(state.spec, upstream, command.upstream_result_json))
    if not satisfied:
        emit(JobCancelled, reason=f"{UPSTREAM_FAILED}: upstream {upstream} is {status}")
    elif state.waiting_on == (upstream,):
        return queue(state, emit, attempt=state.attempt + 1)
    return emit.events


def kept_result(spec: JobSpec, upstream: str, result_json: str | None) -> str | None:
    """The upstream's result as the job keeps it for its task: itself while the job's upstream results
    stay within UPSTREAM_RESULTS_MAX_BYTES, else a marker naming the job whose result it is."""
    if result_json is None:
        return None
    size = len(result_json.encode())
    held = sum(len(kept.encode()) for kept in spec.upstream_results.values())
    if held + size <= UPSTREAM_RESULTS_MAX_BYTES:
        return result_json
    return json.dumps({"ref": "job", "job_id": upstream, "bytes": size})


def condition_holds(condition: DependencyCondition, upstream_status: str) -> bool:
    """``succeeded``: the upstream completed; ``completed``: it ran to an end, success or failure.
    A cancelled upstream never ran, so neither holds."""
    if condition == DependencyCondition.COMPLETED:
        return upstream_status in (Status.COMPLETED, Status.FAILED)
    return upstream_status == Status.COMPLETED


def _condition(spec: JobSpec, upstream: str) -> DependencyCondition:
    """The strictest condition given for this upstream (it may be listed twice)."""
    conditions = {d.condition for d in spec.depends_on if d.job_id == upstream}
    if DependencyCondition.SUCCEEDED in conditions:
        return DependencyCondition.SUCCEEDED
    return DependencyCondition.COMPLETED

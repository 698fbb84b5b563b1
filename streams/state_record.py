"""``JobState`` <-> ``JobStateValue``, the Avro record the state processor stores (pure).

The core's ``JobState`` stays a plain dataclass; this edge maps it onto the versioned record
(``schemas/avro/state/JobStateValue.avsc``) and back, exactly: tuples travel as arrays, the status
as its string, and the chain of decisions cut short (``incomplete``, whose ``before`` state may be
cut short itself) as a list, outermost first, so the schema needs no recursion."""

from __future__ import annotations

from jobstream.core.lifecycle import Status
from jobstream.core.state import Incomplete, JobState
from jobstream.schemas import IncompleteDecision, JobStateFields, JobStateValue

_STATUS = {status.value: status for status in Status}  # a dict look-up: Status(value) costs 20 times more


def to_record(state: JobState) -> JobStateValue:
    cut: list[IncompleteDecision] = []
    incomplete = state.incomplete
    while incomplete is not None:
        before = incomplete.before
        cut.append(IncompleteDecision(command_id=incomplete.command_id, occurred_at=incomplete.occurred_at,
                                      before=_fields(before)))
        incomplete = before.incomplete
    return JobStateValue(state=_fields(state), incomplete=cut)


def from_record(value: JobStateValue) -> JobState:
    incomplete: Incomplete | None = None
    for cut in reversed(value.incomplete):  # innermost first: each one is the next one's before
        incomplete = Incomplete(cut.command_id, cut.occurred_at, _state(cut.before, incomplete))
    return _state(value.state, incomplete)


def _fields(s: JobState) -> JobStateFields:
    return JobStateFields(
        job_id=s.job_id, seq=s.seq, status=s.status, spec=s.spec, attempt=s.attempt, tries=s.tries,
        execution_id=s.execution_id, worker_id=s.worker_id, last_error=s.last_error, submitted_at=s.submitted_at,
        updated_at=s.updated_at, recent_commands=list(s.recent_commands), next_run_at=s.next_run_at,
        last_due=s.last_due, runs=s.runs, active_runs=list(s.active_runs), schedule_anchor=s.schedule_anchor,
        waiting_on=list(s.waiting_on), dependents=list(s.dependents), result_json=s.result_json,
        namespace=s.namespace, retry_at=s.retry_at)


def _state(f: JobStateFields, incomplete: Incomplete | None) -> JobState:
    return JobState(
        f.job_id, seq=f.seq, status=None if f.status is None else _STATUS.get(f.status) or Status(f.status),
        spec=f.spec, attempt=f.attempt, tries=f.tries, execution_id=f.execution_id, worker_id=f.worker_id,
        last_error=f.last_error, submitted_at=f.submitted_at, updated_at=f.updated_at,
        recent_commands=tuple(f.recent_commands), next_run_at=f.next_run_at, last_due=f.last_due, runs=f.runs,
        active_runs=tuple(f.active_runs), schedule_anchor=f.schedule_anchor, waiting_on=tuple(f.waiting_on),
        dependents=tuple(f.dependents), result_json=f.result_json, namespace=f.namespace, retry_at=f.retry_at,
        incomplete=incomplete)

"""Folding a batch of events into rows in memory: no I/O, so it is tested like the mapping.

The store loads the rows a batch touches (``wanted``), the batch folds every event into them with
the pure mapping, and the store writes each changed row once, however many events changed it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from jobstream.schemas import AuditEntry, JobEvent, Record, Template, WorkerEvent
from jobstream.schemas.actors import is_worker

from .mapping import execution_target, project_job_event, project_worker_event
from .rows import AuditRow, EventRow, ExecutionRow, JobRow, PoisonedRow, TemplateRow, WorkerRow, audit_row
from .templates import template_row


@dataclass(frozen=True, slots=True)
class Wanted:
    """Keys of the rows a batch may change, to be loaded (and locked) before folding."""

    job_ids: list[str]
    worker_ids: list[str]
    execution_ids: list[str]  # named by the events; the store adds the jobs' current ones


def wanted(records: Iterable[Record]) -> Wanted:
    job_ids: dict[str, None] = {}  # dicts as ordered sets
    worker_ids: dict[str, None] = {}
    execution_ids: dict[str, None] = {}
    for record in records:
        if isinstance(record, JobEvent):
            job_ids[record.envelope.job_id] = None
            target = execution_target(None, record)
            if target:
                execution_ids[target] = None
        elif isinstance(record, WorkerEvent):
            worker_ids[record.envelope.worker_id] = None
    return Wanted(list(job_ids), list(worker_ids), list(execution_ids))


@dataclass
class Batch:
    """Rows as loaded, then as folded; ``changed_*`` name the rows to write."""

    jobs: dict[str, JobRow] = field(default_factory=dict)
    executions: dict[str, ExecutionRow] = field(default_factory=dict)
    workers: dict[str, WorkerRow] = field(default_factory=dict)
    events: dict[str, EventRow] = field(default_factory=dict)
    templates: dict[str, TemplateRow] = field(default_factory=dict)  # not loaded: the upsert keeps the later
    changed_jobs: dict[str, None] = field(default_factory=dict)
    changed_executions: dict[str, None] = field(default_factory=dict)
    changed_workers: dict[str, None] = field(default_factory=dict)
    notify_job_ids: dict[str, None] = field(default_factory=dict)  # every job with an applied event,
    # and "template:<name>" for every template written (the API waits on both the same way)
    poisoned: dict[str, PoisonedRow] = field(default_factory=dict)  # commands set aside, by command id
    audit: dict[str, AuditRow] = field(default_factory=dict)  # audit entries, by id (inserted once)
    applied: int = 0
    duplicates: int = 0

    @classmethod
    def loaded(cls, jobs: Iterable[JobRow], executions: Iterable[ExecutionRow],
               workers: Iterable[WorkerRow]) -> Batch:
        return cls(jobs={r.job_id: r for r in jobs}, executions={r.execution_id: r for r in executions},
                   workers={r.worker_id: r for r in workers})

    def apply(self, record: Record) -> bool:
        """Fold one event; False when it was a duplicate (or not an event at all)."""
        if isinstance(record, JobEvent):
            return self._count(self._apply_job(record))
        if isinstance(record, WorkerEvent):
            return self._count(self._apply_worker(record))
        if isinstance(record, Template):
            return self._count(self._apply_template(record))
        if isinstance(record, AuditEntry):
            return self._count(self._apply_audit(record))
        return False

    def _count(self, applied: bool) -> bool:
        if applied:
            self.applied += 1
        else:
            self.duplicates += 1
        return applied

    def _apply_job(self, event: JobEvent) -> bool:
        job_id = event.envelope.job_id
        job = self.jobs.get(job_id)
        target = execution_target(job, event)
        change = project_job_event(job, self.executions.get(target) if target else None, event)
        if change is None:
            return False
        if change.job is not None:
            self.jobs[job_id] = change.job
            self.changed_jobs[job_id] = None
        if change.execution is not None:
            self.executions[change.execution.execution_id] = change.execution
            self.changed_executions[change.execution.execution_id] = None
        self.events.setdefault(change.event.event_id, change.event)
        self.notify_job_ids[job_id] = None
        return True

    def _apply_worker(self, event: WorkerEvent) -> bool:
        worker_id = event.envelope.worker_id
        row = project_worker_event(self.workers.get(worker_id), event)
        if row is None:
            return False
        self.workers[worker_id] = row
        self.changed_workers[worker_id] = None
        return True

    def decided(self) -> list[str]:
        """Ids of the commands this batch has news of, for the command-results topic: those that
        caused its new events, and the poisoned. Not workers' own reports (two of a job's three
        commands): no producer waits for them, and `GET /v1/commands/{id}` still answers for them."""
        caused = (event.causation_id for event in self.events.values()
                  if event.causation_id and not is_worker(event.actor))
        return list(dict.fromkeys([*caused, *self.poisoned]))

    def _apply_audit(self, entry: AuditEntry) -> bool:
        """An entry once (a later batch's copy is ignored by the insert)."""
        if entry.entry_id in self.audit:
            return False
        self.audit[entry.entry_id] = audit_row(entry)
        return True

    def _apply_template(self, template: Template) -> bool:
        row = template_row(template)
        current = self.templates.get(row.name)
        if current is not None and current.latest >= row.latest:
            return False
        self.templates[row.name] = row
        self.notify_job_ids[template_key(row.name)] = None
        return True

    def rows_to_write(self) -> tuple[list[JobRow], list[ExecutionRow], list[WorkerRow], list[EventRow]]:
        return ([self.jobs[k] for k in self.changed_jobs], [self.executions[k] for k in self.changed_executions],
                [self.workers[k] for k in self.changed_workers], list(self.events.values()))


def template_key(name: str) -> str:
    """What the projector notifies once a template's new version is committed."""
    return f"template:{name}"

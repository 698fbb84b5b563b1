"""A job event as one flat analytics row (pure): what the analytics projector publishes for
Kafka Connect sinks. The job's status comes from the one lifecycle (``core/lifecycle.py``); its
name, queue, attempt, execution and worker are carried from earlier events in a small context."""

from __future__ import annotations

import dataclasses

from jobstream.core.lifecycle import transition
from jobstream.schemas import JobContext, JobEvent, JobEventRow, JobQueued, JobSubmitted


def fold(context: JobContext | None, event: JobEvent) -> tuple[JobContext, JobEventRow] | None:
    """The job's next context and the event's row; None for an event already folded (seq not
    above the context's), so a redelivered event publishes nothing new."""
    seq = event.envelope.seq
    if context is not None and seq <= context.seq:
        return None
    context = _advance(context or JobContext(seq=0), event)
    return context, _row(context, event)


def _advance(context: JobContext, event: JobEvent) -> JobContext:
    changes = transition(context.status, context.tries, event) or {}
    fields = {k: v for k, v in changes.items() if k in ("status", "tries", "attempt", "execution_id", "worker_id")}
    if "status" in fields:
        fields["status"] = str(fields["status"])
    if isinstance(event, JobSubmitted):
        fields |= {"name": event.spec.name, "queue": event.spec.queue}
    if isinstance(event, JobQueued):
        fields["queue"] = event.queue
    return dataclasses.replace(context, seq=event.envelope.seq, **fields)


def _row(context: JobContext, event: JobEvent) -> JobEventRow:
    envelope = event.envelope
    attempt = getattr(event, "attempt", None)
    return JobEventRow(
        job_id=envelope.job_id, seq=envelope.seq, event_id=envelope.event_id, type=envelope.type,
        occurred_at=envelope.occurred_at, actor=envelope.actor, namespace=envelope.namespace,
        name=context.name, queue=context.queue, status=context.status,
        attempt=attempt if isinstance(attempt, int) else context.attempt,
        execution_id=getattr(event, "execution_id", None) or context.execution_id,
        worker_id=getattr(event, "worker_id", None) or context.worker_id,
        exit_code=getattr(event, "exit_code", None), duration_ms=getattr(event, "duration_ms", None),
        error=getattr(event, "error", None) or getattr(event, "reason", None),
    )

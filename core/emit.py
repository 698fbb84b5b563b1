"""The event emitter ``decide`` and its handlers share, and the one step they all end with: queueing a run."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from jobstream.core.state import JobState, event_id_for, execution_id_for
from jobstream.schemas import Command, CommandRejected, Envelope, JobEvent, JobQueued, JobSpec, JobSubmitted


class Emitter:
    """Stamps events with the envelope: the next seq, deterministic ids, the command's causation."""

    def __init__(self, state: JobState, command: Command, now: datetime) -> None:
        self.job_id = state.job_id
        self.seq = state.seq
        self.command = command
        self.now = now
        self.events: list[JobEvent] = []

    def __call__(self, event_type: type[JobEvent], **fields: Any) -> Emitter:
        self.seq += 1
        envelope = Envelope(
            event_id=event_id_for(self.job_id, self.seq),
            job_id=self.job_id,
            seq=self.seq,
            type=event_type.short_name(),
            occurred_at=self.now,
            actor=self.command.envelope.actor,
            causation_id=self.command.envelope.command_id,
            correlation_id=self.command.envelope.correlation_id,
        )
        self.events.append(event_type(envelope=envelope, **fields))
        return self

    def reject(self, reason: str) -> list[JobEvent]:
        envelope = self.command.envelope
        self(CommandRejected, command_id=envelope.command_id, command_type=envelope.type, reason=reason)
        return self.events

    def spec(self, state: JobState) -> JobSpec:
        """The job's spec: the state's, or the one submitted earlier in this same decision."""
        if state.spec is not None:
            return state.spec
        return next(e.spec for e in self.events if isinstance(e, JobSubmitted))


def queue(state: JobState, emit: Emitter, attempt: int) -> list[JobEvent]:
    spec = emit.spec(state)
    emit(JobQueued, queue=spec.queue, priority=spec.priority, attempt=attempt,
         execution_id=execution_id_for(state.job_id, attempt))
    return emit.events

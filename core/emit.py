"""The event emitter ``decide`` and its handlers share, and the one step they all end with: queueing a run."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from jobstream.core.state import JobState, event_id_for, execution_id_for
from jobstream.schemas import (
    DEFAULT_NAMESPACE,
    Command,
    CommandRejected,
    Envelope,
    JobEvent,
    JobQueued,
    JobSpec,
    JobSubmitted,
    valid_namespace,
)


class Emitter:
    """Stamps events with the envelope: the next seq, deterministic ids, the command's causation.

    Events are drafted as they are emitted and built when ``events`` is read, once their number
    is known: each envelope then says from the start whether more of the decision follow, and is
    not rebuilt to say so afterwards (a frozen record costs as much to copy as to build)."""

    def __init__(self, state: JobState, command: Command, now: datetime) -> None:
        self.job_id = state.job_id
        self.seq = state.seq
        self.command = command
        self.now = now
        # The job's namespace; a submission (or a command about a job that does not exist) brings its own.
        asked = command.envelope.namespace
        self.namespace = state.namespace if state.exists else asked if asked and valid_namespace(asked) \
            else DEFAULT_NAMESPACE
        self._drafts: list[tuple[type[JobEvent], int, dict[str, Any]]] = []
        self._built: list[JobEvent] | None = []

    def __call__(self, event_type: type[JobEvent], **fields: Any) -> Emitter:
        self.seq += 1
        self._drafts.append((event_type, self.seq, fields))
        self._built = None
        return self

    @property
    def events(self) -> list[JobEvent]:
        """The decision's events so far; all but the last say more follow."""
        if self._built is None:
            last = len(self._drafts) - 1
            self._built = [self._build(event_type, seq, fields, continues=i < last)
                           for i, (event_type, seq, fields) in enumerate(self._drafts)]
        return self._built

    def _build(self, event_type: type[JobEvent], seq: int, fields: dict[str, Any], continues: bool) -> JobEvent:
        command = self.command.envelope
        envelope = Envelope(
            event_id=event_id_for(self.job_id, seq),
            job_id=self.job_id,
            seq=seq,
            type=_short_name(event_type),
            occurred_at=self.now,
            actor=command.actor,
            causation_id=command.command_id,
            correlation_id=command.correlation_id,
            continues=continues,
            namespace=self.namespace,
        )
        return event_type(envelope=envelope, **fields)

    def reject(self, reason: str) -> list[JobEvent]:
        envelope = self.command.envelope
        self(CommandRejected, command_id=envelope.command_id, command_type=envelope.type, reason=reason)
        return self.events

    def spec(self, state: JobState) -> JobSpec:
        """The job's spec: the state's, or the one submitted earlier in this same decision."""
        if state.spec is not None:
            return state.spec
        spec: JobSpec = next(fields["spec"] for event_type, _, fields in self._drafts if event_type is JobSubmitted)
        return spec


_SHORT_NAMES: dict[type[JobEvent], str] = {}


def _short_name(event_type: type[JobEvent]) -> str:
    name = _SHORT_NAMES.get(event_type)
    if name is None:
        name = _SHORT_NAMES[event_type] = event_type.short_name()
    return name


def queue(state: JobState, emit: Emitter, attempt: int) -> list[JobEvent]:
    spec = emit.spec(state)
    emit(JobQueued, queue=spec.queue, priority=spec.priority, attempt=attempt,
         execution_id=execution_id_for(state.job_id, attempt))
    return emit.events

"""Worker liveness: who missed its heartbeats, and which executions it held. Pure; time passed in.

Workers heartbeat every ``HEARTBEAT_S`` (2 s) with the executions they run. A worker not heard
from for ``DEFAULT_WINDOW_S`` (6 s: three heartbeats) is overdue; a monitor then declares it
lost and expires what it held, so each execution runs again as a new attempt (a new lease).

What a worker holds: what its heartbeats list, plus what was assigned to it and not yet
listed. An assignment may be sent just before a heartbeat that could not know it, so it is only
taken as finished once ``UNLISTED_HEARTBEATS`` heartbeats after it have not listed it.

A heartbeat also says how far the worker has read its partition of the assignments topic. An
assignment at or beyond that offset has not reached the worker: it is neither running nor
finished, so it does not count as unlisted. If heartbeats still say so ``UNREAD_AFTER_S`` after
the first did (the worker lives but its feed does not deliver: a stalled reader is replaced after
10 s), it is expired so that its job runs elsewhere; a late start of it is fenced by attempt.
Measured on the monitor's clock, not in heartbeats: those a worker queued while the broker was
away arrive together.

"Heard from" is the monitor's clock when the record arrived, not the worker's: clocks of other
machines are not trusted. After a monitor restart every known worker gets a fresh window
(``resume``), so a monitor that was down declares nobody lost for its own absence.

A lost worker is remembered (so an assignment crossing its loss is expired at once, and a
zombie's records do not revive it) until not heard from for ``LOST_RETENTION_S``; then
``forget_lost`` drops it, so the table holds the live fleet and recent losses, not every
worker that ever ran. One heard from after that is a stranger, given a window like any other.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from jobstream.schemas import (
    Assignment,
    Held,
    Liveness,
    WorkerDeregistered,
    WorkerDraining,
    WorkerEvent,
    WorkerHeartbeat,
    WorkerLiveness,
    WorkerLost,
    WorkerRegistered,
)

HEARTBEAT_S = 2.0
DEFAULT_WINDOW_S = 6.0
UNLISTED_HEARTBEATS = 2
UNREAD_AFTER_S = 30.0  # three times what the feed's own guard needs to heal it
LOST_RETENTION_S = 3600.0  # far beyond an assignment in flight or a paused process's comeback


@dataclass(frozen=True, slots=True)
class Loss:
    """A worker declared lost: what to announce and what to expire."""

    worker_id: str
    seq: int  # of the WorkerLost record: one above anything seen on the key
    last_heartbeat_at: datetime
    silent_s: float
    executions: tuple[Held, ...]

    @property
    def event_id(self) -> str:
        """Deterministic: a loss declared again after a crash has the same id."""
        return f"{self.worker_id}:lost:{self.seq}"

    @property
    def reason(self) -> str:
        return f"worker {self.worker_id} lost: no heartbeat for {self.silent_s:.1f}s"


def _new_worker(worker_id: str, status: Liveness, seen: datetime, heartbeat_at: datetime,
                seq: int = 0) -> WorkerLiveness:
    return WorkerLiveness(worker_id=worker_id, status=status, last_seen=seen, last_heartbeat_at=heartbeat_at,
                          last_seq=seq)


def parse_execution_id(execution_id: str) -> tuple[str, int] | None:
    """(job_id, attempt) of an id made by ``core.state.execution_id_for`` (``<job_id>.<attempt>``)."""
    job_id, _, attempt = execution_id.rpartition(".")
    return (job_id, int(attempt)) if job_id and attempt.isdigit() else None


def _after_heartbeat(held: dict[str, Held], running: list[str], read_to: int,
                     now: datetime) -> tuple[dict[str, Held], list[Held]]:
    """What the worker holds after a heartbeat, and what it has left unread too long."""
    listed = set(running)
    out: dict[str, Held] = {}
    unread: list[Held] = []
    for execution_id, item in held.items():
        if execution_id in listed:
            out[execution_id] = replace(item, listed=True, unlisted=0, unread_since=None)
        elif not item.listed and 0 <= read_to <= item.offset:  # not read yet: neither running nor finished
            since = item.unread_since or now
            if (now - since).total_seconds() < UNREAD_AFTER_S:
                out[execution_id] = replace(item, unread_since=since)
            else:
                unread.append(item)
        elif not item.listed and item.unlisted + 1 < UNLISTED_HEARTBEATS:
            out[execution_id] = replace(item, unlisted=item.unlisted + 1)
        # else: it ran and is no longer listed, or never showed up: finished
    for execution_id in listed - out.keys():
        parsed = parse_execution_id(execution_id)  # known from a heartbeat only (monitor started late)
        if parsed is not None:
            out[execution_id] = Held(execution_id=execution_id, job_id=parsed[0], attempt=parsed[1], listed=True)
    return out, unread


@dataclass
class LivenessTracker:
    """Every known worker's liveness. ``observe`` records as they arrive, ask ``overdue``."""

    window_s: float = DEFAULT_WINDOW_S
    workers: dict[str, WorkerLiveness] = field(default_factory=dict)

    def observe(self, record: WorkerEvent | Assignment, now: datetime, offset: int = -1) -> list[Held]:
        """Fold one record in (``offset``: an assignment's, in the assignments topic). Returns
        executions to expire: those assigned to a worker already lost, held by a previous
        incarnation of a worker that registers again, or left unread by a live worker too long."""
        if isinstance(record, Assignment):
            return self._assigned(record, now, offset)
        envelope = record.envelope
        known = self.workers.get(envelope.worker_id)
        seq = max(envelope.seq, known.last_seq if known else 0)
        match record:
            case WorkerRegistered():
                # Known only from assignments (no record of its own yet, seq 0): they were sent to
                # this registration, read out of order across the two topics, not to an earlier process.
                held = known.held if known is not None else {}
                first = known is None or known.last_seq == 0
                lost = known is not None and known.status == Liveness.LOST
                registered = _new_worker(envelope.worker_id, Liveness.ACTIVE, now, envelope.occurred_at, seq)
                self.workers[envelope.worker_id] = replace(registered, held=held if first else {})
                return [] if first or lost else list(held.values())
            case WorkerDeregistered():
                # Anything it still held (an assignment that crossed its goodbye) must run elsewhere.
                gone = self.workers.pop(envelope.worker_id, None)
                return list(gone.held.values()) if gone is not None else []
            case WorkerLost():
                base = known or _new_worker(envelope.worker_id, Liveness.LOST, now, record.last_heartbeat_at)
                self.workers[envelope.worker_id] = replace(base, status=Liveness.LOST, last_seq=seq, held={})
            case _ if known is not None and known.status == Liveness.LOST:
                # A lost worker stays lost until it registers again; heard from, it is kept in mind.
                self.workers[envelope.worker_id] = replace(known, last_seq=seq, last_seen=now)
            case WorkerHeartbeat():
                base = known or _new_worker(envelope.worker_id, Liveness.ACTIVE, now, envelope.occurred_at)
                held, unread = _after_heartbeat(base.held, record.running, record.assignments_read_to, now)
                self.workers[envelope.worker_id] = replace(
                    base, last_seen=now, last_heartbeat_at=envelope.occurred_at, last_seq=seq, held=held)
                return unread
            case WorkerDraining():
                base = known or _new_worker(envelope.worker_id, Liveness.ACTIVE, now, envelope.occurred_at)
                self.workers[envelope.worker_id] = replace(base, status=Liveness.DRAINING, last_seq=seq)
        return []

    def _assigned(self, assignment: Assignment, now: datetime, offset: int) -> list[Held]:
        item = Held(execution_id=assignment.execution_id, job_id=assignment.job_id, attempt=assignment.attempt,
                    offset=offset)
        known = self.workers.get(assignment.worker_id)
        if known is not None and known.status == Liveness.LOST:
            return [item]
        if known is None:  # never heard of: it gets one window to show up
            known = _new_worker(assignment.worker_id, Liveness.ACTIVE, now, now)
        if assignment.execution_id not in known.held:
            known = replace(known, held={**known.held, assignment.execution_id: item})
        self.workers[assignment.worker_id] = known
        return []

    def overdue(self, now: datetime) -> list[Loss]:
        """Workers not heard from within the window, with what they held. Changes nothing:
        call ``declare_lost`` for each once the loss is announced."""
        losses = []
        for worker in self.workers.values():
            silent_s = (now - worker.last_seen).total_seconds()
            if worker.status != Liveness.LOST and silent_s > self.window_s:
                losses.append(Loss(worker.worker_id, worker.last_seq + 1, worker.last_heartbeat_at, silent_s,
                                   tuple(worker.held.values())))
        return sorted(losses, key=lambda loss: loss.worker_id)

    def declare_lost(self, loss: Loss) -> list[Held]:
        """Mark the worker lost. Returns what it was given while the loss was being announced
        (not in ``loss.executions``): those must be expired too."""
        worker = self.workers.get(loss.worker_id)
        if worker is None:
            return []
        self.workers[loss.worker_id] = replace(worker, status=Liveness.LOST, held={},
                                               last_seq=max(worker.last_seq, loss.seq))
        announced = {held.execution_id for held in loss.executions}
        return [held for held in worker.held.values() if held.execution_id not in announced]

    def forget_lost(self, now: datetime, retention_s: float = LOST_RETENTION_S) -> list[str]:
        """Drop the workers lost and not heard from for ``retention_s``; returns their ids, which
        the caller deletes from its store."""
        cutoff = now - timedelta(seconds=retention_s)
        gone = sorted(worker_id for worker_id, worker in self.workers.items()
                      if worker.status == Liveness.LOST and worker.last_seen < cutoff)
        for worker_id in gone:
            del self.workers[worker_id]
        return gone

    def resume(self, now: datetime) -> None:
        """After a restart: every worker not lost gets a fresh window from ``now``."""
        for worker_id, worker in self.workers.items():
            if worker.status != Liveness.LOST and worker.last_seen < now:
                self.workers[worker_id] = replace(worker, last_seen=now)

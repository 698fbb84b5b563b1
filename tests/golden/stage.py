"""A pure stage on which the golden scenarios are played: the pipeline's parts, minus Kafka.

Each command is decided as the state processor decides it (``decide`` on the job's state at the
stage's clock, then ``evolve``); the follow-up commands a decision sends other jobs are delivered
next, in order (``core.follow_ups``); the timers a decision arms are held and fired, at their due
times, as the timer processor fires them (``core.timers``, command id ``fire:<timer_id>``). Workers
report starts and ends with the lease the job state names, and write their own events to the
workers topic. The stage records every command (at its time) and every event in the order the
pipeline would have written them.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from jobstream.core.decide import decide
from jobstream.core.follow_ups import follow_up_commands
from jobstream.core.state import JobState, evolve
from jobstream.core.timers import timer_changes
from jobstream.schemas import (
    ArmedTimer,
    Command,
    CommandEnvelope,
    ExpireExecution,
    FireTimer,
    JobEvent,
    Outcome,
    Record,
    ReportFinished,
    ReportStarted,
    TimerChange,
    WorkerEnvelope,
    WorkerEvent,
    WorkerLost,
)


@dataclass(frozen=True)
class Recorded:
    """One line of a history: a command (with the time it was decided at) or an event."""

    record: Record
    at: datetime | None = None  # commands only


class Stage:
    def __init__(self, start: datetime) -> None:
        self.now = start
        self.states: dict[str, JobState] = {}
        self.history: list[Recorded] = []
        self.timers: dict[str, tuple[str, ArmedTimer]] = {}  # timer_id -> (job_id, timer)
        self.worker_seqs: dict[str, int] = {}
        self._counts: dict[str, int] = {}

    # ------------------------------------------------------------------ commands
    def send(self, cls: type[Command], job_id: str, actor: str = "api", command_id: str | None = None,
             **fields: Any) -> list[JobEvent]:
        """Decide one command at the stage's clock, then deliver its follow-ups until quiet."""
        envelope = CommandEnvelope(command_id=command_id or self._command_id(job_id, cls), job_id=job_id,
                                   type=cls.short_name(), issued_at=self.now, actor=actor)
        inbox: deque[Command] = deque([cls(envelope=envelope, **fields)])
        decided = self._decide(inbox.popleft(), inbox)
        while inbox:
            self._decide(inbox.popleft(), inbox)
        return decided

    def start(self, job_id: str, worker_id: str) -> list[JobEvent]:
        return self.send(ReportStarted, job_id, "worker", pid=4242, **self.lease(job_id, worker_id))

    def finish(self, job_id: str, outcome: Outcome = Outcome.SUCCEEDED, exit_code: int | None = 0,
               **fields: Any) -> list[JobEvent]:
        state = self.states[job_id]
        assert state.worker_id is not None, f"{job_id} is not running"
        return self.send(ReportFinished, job_id, "worker", outcome=outcome, exit_code=exit_code, duration_ms=1500,
                         **self.lease(job_id, state.worker_id), **fields)

    def run(self, job_id: str, worker_id: str = "worker-1", **finish: Any) -> None:
        self.start(job_id, worker_id)
        self.wait(2)
        self.finish(job_id, **finish)

    # ------------------------------------------------------------------ time and timers
    def wait(self, seconds: float) -> None:
        """Move the clock on, firing each timer that falls due on the way, at its due time."""
        until = self.now + timedelta(seconds=seconds)
        while (due := self._next_timer(until)) is not None:
            timer_id, (job_id, timer) = due
            self.now = max(self.now, timer.due_at)
            del self.timers[timer_id]
            self.send(FireTimer, job_id, "timer", command_id=f"fire:{timer_id}", timer_id=timer_id,
                      due_at=timer.due_at, purpose=timer.purpose)
        self.now = until

    def outage(self, seconds: float) -> None:
        """The timer processor is down: the clock moves on, nothing fires (the next ``wait`` fires late)."""
        self.now += timedelta(seconds=seconds)

    def _next_timer(self, until: datetime) -> tuple[str, tuple[str, ArmedTimer]] | None:
        due = [(timer.due_at, timer_id) for timer_id, (_, timer) in self.timers.items() if timer.due_at <= until]
        if not due:
            return None
        _, timer_id = min(due)
        return timer_id, self.timers[timer_id]

    # ------------------------------------------------------------------ workers
    def worker_event(self, cls: type[WorkerEvent], worker_id: str, **fields: Any) -> None:
        """A worker's own event on the workers topic, numbered per worker."""
        seq = self.worker_seqs.get(worker_id, 0) + 1
        self.worker_seqs[worker_id] = seq
        envelope = WorkerEnvelope(event_id=f"{worker_id}:{seq}", worker_id=worker_id, seq=seq, type=cls.short_name(),
                                  occurred_at=self.now, actor="worker-monitor" if cls is WorkerLost else "worker")
        self.history.append(Recorded(cls(envelope=envelope, **fields)))

    def lose_worker(self, worker_id: str, last_heartbeat_at: datetime) -> None:
        """The worker monitor's verdict: WorkerLost, then an ExpireExecution for each job it held."""
        self.worker_event(WorkerLost, worker_id, last_heartbeat_at=last_heartbeat_at, reason="missed heartbeats")
        for job_id, state in sorted(self.states.items()):
            if state.worker_id == worker_id and state.execution_id:
                self.send(ExpireExecution, job_id, "worker-monitor", command_id=f"expire:{state.execution_id}",
                          reason=f"worker {worker_id} lost", **self.lease(job_id, worker_id))

    # ------------------------------------------------------------------ the state processor
    def _decide(self, command: Command, inbox: deque[Command]) -> list[JobEvent]:
        job_id = command.envelope.job_id
        before = self.states.get(job_id, JobState(job_id))
        events = decide(before, command, self.now)
        after = before
        for event in events:
            after = evolve(after, event)
        self.states[job_id] = after
        self.history.append(Recorded(command, self.now))
        self.history += [Recorded(event) for event in events]
        for change in timer_changes(before, events):
            self._apply(change)
        inbox.extend(follow_up_commands(before, after, events))
        return events

    def _apply(self, change: TimerChange) -> None:
        """As the timer processor applies a change: disarm first, then arm."""
        mine = [t for t, (job_id, _) in self.timers.items() if job_id == change.job_id]
        for timer_id in mine if change.disarm_job else change.disarm:
            self.timers.pop(timer_id, None)
        for timer in change.arm:
            self.timers[timer.timer_id] = (change.job_id, timer)

    def lease(self, job_id: str, worker_id: str) -> dict[str, Any]:
        state = self.states[job_id]
        return {"execution_id": state.execution_id, "attempt": state.attempt, "worker_id": worker_id}

    def _command_id(self, job_id: str, cls: type[Command]) -> str:
        key = f"{job_id}:{cls.short_name()}"
        self._counts[key] = self._counts.get(key, 0) + 1
        return f"{key}:{self._counts[key]}"

"""A pure, in-memory world of jobs for unit tests: decide/evolve per job, and the follow-up commands
one job sends another delivered through a queue (optionally shuffled and duplicated, as Kafka may)."""

from __future__ import annotations

import random
from collections import deque
from datetime import datetime
from typing import Any

from jobstream.core.decide import decide
from jobstream.core.follow_ups import follow_up_commands
from jobstream.core.state import JobState, evolve
from jobstream.schemas import (
    AssignJob,
    Command,
    JobEvent,
    JobSpec,
    Outcome,
    ReportFinished,
    ReportStarted,
    SubmitJob,
)
from tests.unit.builders import T0, command


class World:
    def __init__(self, rng: random.Random | None = None, duplicate: bool = False, now: datetime = T0) -> None:
        self.states: dict[str, JobState] = {}
        self.history: dict[str, list[JobEvent]] = {}
        self.inbox: deque[Command] = deque()
        self.rng, self.duplicate, self.now = rng, duplicate, now

    def state(self, job_id: str) -> JobState:
        return self.states.get(job_id, JobState(job_id))

    def status(self, job_id: str) -> str | None:
        status = self.state(job_id).status
        return None if status is None else str(status)

    def send(self, cmd: Command) -> list[JobEvent]:
        """Decide one command, keep its events, queue its follow-ups; then deliver until quiet."""
        events = self._decide(cmd)
        self.deliver()
        return events

    def submit(self, job_id: str, spec: JobSpec) -> list[JobEvent]:
        return self.send(command(SubmitJob, job_id=job_id, spec=spec))

    def run(self, job_id: str, outcome: Outcome = Outcome.SUCCEEDED, result_json: str | None = None) -> None:
        """The job's queued attempt is assigned, starts and finishes with ``outcome`` (and its result)."""
        state = self.state(job_id)
        lease: dict[str, Any] = dict(execution_id=state.execution_id, attempt=state.attempt, worker_id="w1")
        for cmd in (command(AssignJob, job_id=job_id, **lease), command(ReportStarted, job_id=job_id, **lease),
                    command(ReportFinished, job_id=job_id, outcome=outcome, exit_code=0 if outcome == "succeeded"
                            else 1, result_json=result_json, **lease)):
            self.send(cmd)

    def deliver(self) -> None:
        while self.inbox:
            if self.rng is not None:
                self.inbox.rotate(self.rng.randrange(len(self.inbox)))
            self._decide(self.inbox.popleft())

    def _decide(self, cmd: Command) -> list[JobEvent]:
        job_id = cmd.envelope.job_id
        before = self.state(job_id)
        events = decide(before, cmd, self.now)
        after = before
        for event in events:
            after = evolve(after, event)
        self.states[job_id] = after
        self.history.setdefault(job_id, []).extend(events)
        follow_ups = follow_up_commands(before, after, events)
        self.inbox.extend(follow_ups)
        if self.duplicate:
            self.inbox.extend(follow_ups)  # at-least-once: every command may arrive twice
        return events

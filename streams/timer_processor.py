"""The timer processor: a durable timing wheel per process that turns due timers into commands.

It consumes the events topic (co-partitioned with commands, keyed by job_id). Events that ask
for a timer (a schedule's next fire, a retry's backoff) put it in a table, whose changelog makes it durable,
and in the wheel; events that end the wait remove it. A loop advances the wheel with the clock
and sends a FireTimer command for each due timer, with a deterministic command id, so a fire
repeated after a crash is recognised by the state processor and decides nothing. After a
restart or rebalance the wheel is rebuilt from the table: timers fire late, never early, never
lost.

faust's own @app.timer/@app.crontab are not used for this: they are not persisted and they
move with the leader.
"""

from __future__ import annotations

import asyncio
import logging
import pickle
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import faust

from jobstream.config import Settings
from jobstream.core.decide import retry_timer_id
from jobstream.core.scheduling import schedule_timer_id
from jobstream.core.timer_wheel import TimerWheel
from jobstream.infra.topics import Topics
from jobstream.schemas import (
    FireTimer, JobCancelled, JobCompleted, JobDeadLettered, JobEvent, JobFailed, JobPaused, JobQueued,
    JobResumed, JobRetryScheduled, JobScheduled, ScheduleEnded, TimerPurpose, make_codec,
)
from jobstream.streams.app import decoded, ensure_all_topics, make_app, partition_for, produce, raw_topic
from jobstream.streams import metrics
from jobstream.streams.kafka_io import command_envelope

log = logging.getLogger(__name__)
MAX_SLEEP_S = 0.01


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Timer:
    timer_id: str
    job_id: str
    due: datetime
    purpose: TimerPurpose


@dataclass(frozen=True, slots=True)
class WheelChange:
    """What one event asks of the wheel."""

    arm: tuple[Timer, ...] = ()
    disarm: tuple[str, ...] = ()
    disarm_job: bool = False  # the job's wait is over: every timer of it goes


def timers_for(event: JobEvent) -> WheelChange:
    """Pure: the wheel change an event implies. Applying it twice changes nothing more."""
    job_id = event.envelope.job_id
    match event:
        case JobScheduled(next_run_at=due) | JobResumed(next_run_at=due) if due is not None:
            # The job waits for this fire only: an earlier one (before a PATCH) is disarmed.
            return WheelChange(arm=(Timer(schedule_timer_id(job_id, due), job_id, due, TimerPurpose.SCHEDULE),),
                               disarm_job=True)
        case JobRetryScheduled(next_attempt=attempt, retry_at=due):
            return WheelChange(arm=(Timer(retry_timer_id(job_id, attempt), job_id, due, TimerPurpose.RETRY),))
        case JobQueued(attempt=attempt):
            return WheelChange(disarm=(retry_timer_id(job_id, attempt),))
        case JobCancelled() | JobCompleted() | JobDeadLettered() | JobFailed(final=True) | JobPaused() \
                | ScheduleEnded():
            return WheelChange(disarm_job=True)
    return WheelChange()


class TimerProcessor:
    def __init__(self, settings: Settings, *, instance_id: str | None = None,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.topics = Topics(settings.topic_prefix)
        self.partitions = settings.partitions
        self.codec = make_codec(settings.schema_registry_url)
        self.clock = clock
        self.app = make_app(settings, self.topics.timer_app, instance_id=instance_id)
        self.events = raw_topic(self.app, self.topics.events, self.partitions)
        self.table = self.app.Table("timers", default=None, partitions=self.partitions, key_type=str,
                                    value_type=bytes)
        self.table.on_recover(self._rebuild)
        self.wheel = TimerWheel(start=clock())
        self.by_job: dict[str, set[str]] = {}
        self.app.agent(self.events, name="timers")(self._process)
        self.app.task(self._fire_loop)

    # -- events in ------------------------------------------------------------------------

    async def _process(self, stream: faust.StreamT) -> AsyncIterator[None]:
        async for event in stream.events():
            record = decoded(self.codec, event.message, "the projector sets poison aside")
            if isinstance(record, JobEvent):
                self._apply(record)
            yield None

    def _apply(self, event: JobEvent) -> None:
        change = timers_for(event)
        disarm = sorted(self.by_job.get(event.envelope.job_id, ())) if change.disarm_job else change.disarm
        for timer_id in disarm:
            self._forget(timer_id, in_stream=True)
        for timer in change.arm:
            self.table[timer.timer_id] = pickle.dumps(timer)
            self._arm(timer)

    def _arm(self, timer: Timer) -> None:
        self.wheel.schedule(timer.timer_id, timer.due, timer)
        self.by_job.setdefault(timer.job_id, set()).add(timer.timer_id)

    def _forget(self, timer_id: str, *, in_stream: bool) -> None:
        stored = self.table.data.get(timer_id)
        if stored is None:
            return
        timer: Timer = pickle.loads(stored)
        self.wheel.cancel(timer_id)
        pending = self.by_job.get(timer.job_id)
        if pending is not None:
            pending.discard(timer_id)
            if not pending:
                del self.by_job[timer.job_id]  # one entry per job with a timer, not per job ever
        if in_stream:
            del self.table[timer_id]
        else:  # outside a stream faust cannot tell the partition: name it
            del self.table.data[timer_id]
            self.table.send_changelog(partition_for(timer.job_id, self.partitions), timer_id, None)

    async def _rebuild(self) -> None:
        self.wheel = TimerWheel(start=self.clock())
        self.by_job.clear()
        for value in list(self.table.data.values()):
            if value:
                self._arm(pickle.loads(value))
        log.info("timer wheel rebuilt with %d pending timers", len(self.wheel))

    # -- fires out ------------------------------------------------------------------------

    async def _fire_loop(self) -> None:
        while True:
            now = self.clock()
            for fired in self.wheel.advance(now):
                await self._fire(fired.payload, now)
            await asyncio.sleep(self._sleep_s(now))

    def _sleep_s(self, now: datetime) -> float:
        due = self.wheel.next_due()
        if due is None:
            return MAX_SLEEP_S
        return min(max((due - now) / timedelta(seconds=1), 0.0), MAX_SLEEP_S)

    async def _fire(self, timer: Timer, now: datetime) -> None:
        command = FireTimer(envelope=command_envelope(FireTimer, timer.job_id, "timer", now=now,
                                                      command_id=f"fire:{timer.timer_id}"),
                            timer_id=timer.timer_id, due_at=timer.due, purpose=timer.purpose)
        await produce(self.app, self.topics.commands, timer.job_id.encode(),
                      self.codec.encode(command, self.topics.commands), partition_for(timer.job_id, self.partitions))
        self._forget(timer.timer_id, in_stream=False)
        metrics.TIMERS_FIRED.labels(timer.purpose.value).inc()
        metrics.TIMER_LATENESS.observe(max((now - timer.due).total_seconds(), 0.0))


def run_timer_processor(settings: Settings, instance_id: str | None = None, metrics_port: int | None = None) -> None:
    metrics.serve(metrics_port)
    processor = TimerProcessor(settings, instance_id=instance_id)
    ensure_all_topics(settings)
    faust.Worker(processor.app, loglevel="INFO", quiet=True).execute_from_commandline()

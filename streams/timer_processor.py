"""The timer processor: a durable timing wheel per process that turns due timers into commands.

It consumes the timer-requests topic (co-partitioned with commands, keyed by job_id): the
``TimerChange`` records the state processor derives from the events that arm a timer (a
schedule's next fire, a retry's backoff) or end a wait (``core/timers.py``), a few per scheduled
or retried job rather than every event of every job. Armed timers go in a table, whose changelog
makes them durable, and in the wheel; disarmed ones leave both. A loop advances the wheel with the clock
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
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta

import faust

from jobstream.clock import utcnow
from jobstream.config import Settings
from jobstream.core.timer_wheel import TimerWheel
from jobstream.infra.topics import Topics
from jobstream.logging_setup import dict_config
from jobstream.schemas import FireTimer, PendingTimer, TimerChange, TimerPurpose, make_codec
from jobstream.streams import metrics
from jobstream.streams.app import decoded_or_poison, ensure_all_topics, make_app, partition_for, produce, raw_topic
from jobstream.streams.kafka_io import command_envelope

log = logging.getLogger(__name__)
MAX_SLEEP_S = 0.01



class TimerProcessor:
    def __init__(self, settings: Settings, *, instance_id: str | None = None,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.topics = Topics(settings.topic_prefix)
        self.partitions = settings.partitions
        self.codec = make_codec(settings.schema_registry_url)
        self.clock = clock
        self.app = make_app(settings, self.topics.timer_app, instance_id=instance_id)
        self.requests = raw_topic(self.app, self.topics.timer_requests, self.partitions)
        self.table = self.app.Table("timers", default=None, partitions=self.partitions, key_type=str,
                                    value_type=bytes)
        self.changelog = self.topics.changelog(self.topics.timer_app, "timers")
        self.table.on_recover(self._rebuild)
        self.wheel = TimerWheel(start=clock())
        self.by_job: dict[str, set[str]] = {}
        self.app.agent(self.requests, name="timers")(self._process)
        self.app.task(self._fire_loop)

    # -- changes in -----------------------------------------------------------------------

    async def _process(self, stream: faust.StreamT) -> AsyncIterator[None]:
        async for event in stream.events():
            record = await decoded_or_poison(self.app, self.codec, event.message, self.topics.poison,
                                             "timer-processor")
            if isinstance(record, TimerChange):
                self._apply(record)
            yield None

    def _apply(self, change: TimerChange) -> None:
        disarm = sorted(self.by_job.get(change.job_id, ())) if change.disarm_job else change.disarm
        for timer_id in disarm:
            self._forget(timer_id, in_stream=True)
        for armed in change.arm:
            timer = PendingTimer(timer_id=armed.timer_id, job_id=change.job_id, due_at=armed.due_at,
                                 purpose=armed.purpose)
            self.table[timer.timer_id] = self.codec.encode(timer, self.changelog)
            self._arm(timer)

    def _arm(self, timer: PendingTimer) -> None:
        self.wheel.schedule(timer.timer_id, timer.due_at, timer)
        self.by_job.setdefault(timer.job_id, set()).add(timer.timer_id)

    def _forget(self, timer_id: str, *, in_stream: bool) -> None:
        stored = self.table.data.get(timer_id)
        if stored is None:
            return
        timer = self._decode(stored)
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

    def _decode(self, stored: bytes) -> PendingTimer:
        """A store value: an Avro PendingTimer (schemas/avro/state), read across schema versions."""
        timer = self.codec.decode(stored, topic=self.changelog, partition=-1, offset=-1)
        assert isinstance(timer, PendingTimer), type(timer)
        return timer

    async def _rebuild(self) -> None:
        self.wheel = TimerWheel(start=self.clock())
        self.by_job.clear()
        for value in list(self.table.data.values()):
            if value:
                self._arm(self._decode(value))
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

    async def _fire(self, timer: PendingTimer, now: datetime) -> None:
        command = FireTimer(envelope=command_envelope(FireTimer, timer.job_id, "timer", now=now,
                                                      command_id=f"fire:{timer.timer_id}"),
                            timer_id=timer.timer_id, due_at=timer.due_at, purpose=TimerPurpose(timer.purpose))
        await produce(self.app, self.topics.commands, timer.job_id.encode(),
                      self.codec.encode(command, self.topics.commands), partition_for(timer.job_id, self.partitions))
        self._forget(timer.timer_id, in_stream=False)
        metrics.TIMERS_FIRED.labels(timer.purpose).inc()
        metrics.TIMER_LATENESS.observe(max((now - timer.due_at).total_seconds(), 0.0))


def run_timer_processor(settings: Settings, instance_id: str | None = None, metrics_port: int | None = None) -> None:
    metrics.serve(metrics_port)
    processor = TimerProcessor(settings, instance_id=instance_id)
    ensure_all_topics(settings)
    # faust's worker sets up logging itself: given our set-up, its lines and aiokafka's look like every
    # other process's, and a lost broker's retries are not a line each.
    faust.Worker(processor.app, loglevel="INFO", quiet=True,
                 logging_config=dict_config("timer-processor", settings.log_format)).execute_from_commandline()

"""The job state processor on the exactly-once engine (``streams/engine``).

Per command it does what ``streams/state_processor.py`` does: decode, ``decide``, fold the events
into the job's state, append them to the same partition of the events topic, send the decision's
side effects, set undecodable or undecidable commands aside on the poison topic. The difference
is the guarantee: a batch's events, side effects, state (the changelog) and input offsets commit
in one Kafka transaction, so the changelog is exactly as far as the events topic and no
catch-up is needed after a crash. Settled jobs are slimmed to tombstones after the retention."""

from __future__ import annotations

import heapq
import logging
import signal
import time
from collections import Counter
from collections.abc import Callable, MutableMapping
from datetime import datetime, timedelta
from functools import lru_cache, partial

from confluent_kafka import Message

from jobstream.clock import utcnow
from jobstream.config import REPORTS_SECRET_FILE, Settings
from jobstream.core.decide import decide, refuse
from jobstream.core.latency import Stage, finished_results, stage_latencies
from jobstream.core.quotas import fold_shell, shell_refusal
from jobstream.core.report_keys import report_refusal
from jobstream.core.state import SETTLED, JobState, evolve, tombstone
from jobstream.core.timer_watch import TimerWatch
from jobstream.core.validation import size_refusal
from jobstream.infra.topics import Topics
from jobstream.report_secret import load_reports_secret
from jobstream.schemas import (
    Command,
    CommandRejected,
    JobEvent,
    ReportFinished,
    ReportProgress,
    ReportRejected,
    ReportStarted,
    ReturnAssignment,
    TimerChange,
    make_codec,
)
from jobstream.streams import metrics
from jobstream.streams.engine import Batch, Engine, EngineConfig
from jobstream.streams.kafka_io import ensure_all_topics, partition_for
from jobstream.streams.quota_watch import QuotaWatch
from jobstream.streams.record_serde import decode_input
from jobstream.streams.side_effects import messages as side_effect_messages
from jobstream.streams.state_bootstrap import fold_events
from jobstream.streams.state_serde import StateSerde

log = logging.getLogger(__name__)

RETIRE_EVERY_S = 10.0
# What a worker sends about its executions, each naming its worker id: signed by that worker.
WORKER_REPORTS = (ReportStarted, ReportProgress, ReportFinished, ReturnAssignment)
RETIRE_AT_MOST = 20_000  # per punctuation: a large backlog is worked off over several
BOOTSTRAP_TIMEOUT_S = 600.0


class UndecidableCommand(Exception):
    """``decide`` (or folding its events) raised: a bug, or an input no validation foresaw."""



STAGE_HISTOGRAMS = {Stage.SCHEDULING: metrics.SCHEDULING_LATENCY, Stage.RUN: metrics.RUN_DURATION,
                    Stage.TURNAROUND: metrics.TURNAROUND}


class Tally:
    """Metrics of a transaction, published once it committed (an aborted batch is redone)."""

    def __init__(self) -> None:
        # Keyed by (type or result, the job's namespace).
        self.commands: Counter[tuple[str, str]] = Counter()
        self.events: Counter[tuple[str, str]] = Counter()
        self.rejections: Counter[tuple[str, str]] = Counter()
        self.ignored: Counter[tuple[str, str]] = Counter()
        self.decide_seconds: list[float] = []
        self.stages: list[tuple[Stage, float]] = []
        self.finished: Counter[tuple[str, str]] = Counter()
        self.poison = 0
        self.unsigned = 0  # of the poison: reports not signed by the worker they name
        self.retired = 0
        self.forwarded = 0
        self.rearmed: Counter[str] = Counter()  # by purpose

    def publish(self) -> None:
        for labels, n in self.commands.items():
            metrics.COMMANDS.labels(*labels).inc(n)
        for labels, n in self.events.items():
            metrics.EVENTS.labels(*labels).inc(n)
        for labels, n in self.rejections.items():
            metrics.REJECTIONS.labels(*labels).inc(n)
        for labels, n in self.ignored.items():
            metrics.IGNORED.labels(*labels).inc(n)
        for seconds in self.decide_seconds:
            metrics.DECIDE_SECONDS.observe(seconds)
        for stage, seconds in self.stages:
            STAGE_HISTOGRAMS[stage].observe(seconds)
        for labels, n in self.finished.items():
            metrics.JOBS_FINISHED.labels(*labels).inc(n)
        if self.poison:
            metrics.POISON.labels("state-processor").inc(self.poison)
        if self.unsigned:
            metrics.UNSIGNED_REPORTS.inc(self.unsigned)
        if self.retired:
            metrics.RETIRED.inc(self.retired)
        if self.forwarded:
            metrics.FORWARDED.inc(self.forwarded)
        for purpose, n in self.rearmed.items():
            metrics.TIMERS_REARMED.labels(purpose).inc(n)


def namespace_of(state: JobState, command: Command) -> str:
    """The namespace a decision is counted in: the job's, or for a job that does not exist (a
    refused submission, a command for an unknown id) the one the command names."""
    return state.namespace if state.exists else command.envelope.namespace or state.namespace


class StateHandler:
    """The state processor as an engine ``Processor[JobState]``."""

    def __init__(self, settings: Settings, clock: Callable[[], datetime] = utcnow,
                 rules: QuotaWatch | None = None, shell_namespaces: set[str] | None = None,
                 reports_secret: bytes | None = None) -> None:
        self.topics = Topics(settings.topic_prefix)
        self.rules = rules  # the namespaces' rules from the keys topic, folded into shell_namespaces
        self.shell_namespaces = shell_namespaces if shell_namespaces is not None else set()
        self.reports_secret = reports_secret  # None: worker reports are believed as they come
        self.codec = make_codec(settings.schema_registry_url)
        self.clock = clock
        self.retention = timedelta(seconds=settings.state_retention_s)
        self.partitions = settings.partitions
        self.tally = Tally()
        # Heap of (settled at, partition, job_id) to slim down; entries of this batch wait for its commit.
        self.settling: list[tuple[datetime, int, str]] = []
        self.settled_now: list[tuple[datetime, int, str]] = []
        self.popped: list[tuple[datetime, int, str]] = []
        self.next_retire = time.monotonic()
        self.settings = settings
        self.unsaved: dict[int, list[str]] = {}  # partition -> jobs rebuilt from events, not in the changelog yet
        self.saving: dict[int, list[str]] = {}  # those of the transaction in hand
        self.partition_of = lru_cache(maxsize=4096)(lambda key: partition_for(key, self.partitions))  # queues repeat
        self.timers = TimerWatch()  # scheduled jobs' pending timers, armed again when long overdue

    # -- per command ------------------------------------------------------------------------

    def handle(self, message: Message, batch: Batch[JobState]) -> None:
        if self.rules is not None:
            self.rules.drain()  # a rule read since the last command applies from this one
        partition: int = message.partition()  # type: ignore[assignment]
        command = self._decode(message, batch)
        if command is None:
            return
        job_id = command.envelope.job_id
        if (home := self.partition_of(job_id)) != partition:
            self._forward(message, home, batch)
            return
        kind = type(command).short_name()  # not envelope.type: a producer writes that
        started = time.perf_counter()
        before = batch.get(partition, job_id) or JobState(job_id)
        try:
            events, states = self._decide(before, command, len(message.value() or b""))
        except UndecidableCommand as error:  # set aside: it must not stall its partition
            self.tally.commands[kind, namespace_of(before, command)] += 1
            log.error("%s", error, exc_info=error.__cause__)
            self._set_aside(message, str(error), batch)
            return
        after = states[-1]
        namespace = namespace_of(after, command)
        self.tally.commands[kind, namespace] += 1
        if not events:
            self.tally.ignored[kind, namespace] += 1
            return
        self._send(states, events, namespace, partition, batch)
        batch.put(partition, job_id, after)
        self.timers.decided(before, after, partition)
        if after.status in SETTLED and before.status not in SETTLED and after.updated_at is not None:
            self.settled_now.append((after.updated_at, partition, job_id))
        self.tally.decide_seconds.append(time.perf_counter() - started)

    def _decode(self, message: Message, batch: Batch[JobState]) -> Command | None:
        record = decode_input(self.codec, message, batch, self.topics.poison)
        if record is None:
            self.tally.poison += 1
            return None
        if not isinstance(record, Command):
            self._set_aside(message, f"{type(record).__name__} is not a command", batch)
            return None
        if self.reports_secret is not None and isinstance(record, WORKER_REPORTS):
            refusal = report_refusal(self.reports_secret, record.worker_id, message.value(),  # type: ignore[arg-type]
                                     message.headers())
            if refusal is not None:  # set aside, not rejected: a rejection would stop the named worker's run
                self.tally.unsigned += 1
                self._set_aside(message, refusal, batch)
                return None
        return record

    def _decide(self, before: JobState, command: Command, size: int) -> tuple[list[JobEvent], list[JobState]]:
        """The decision and the states it goes through (``before``, then the state after each
        event), before anything is sent: a raise leaves nothing half-sent."""
        try:
            refusal = size_refusal(size) or shell_refusal(before, command, self.shell_namespaces)
            now = self.clock()
            events = refuse(before, command, now, refusal) if refusal else decide(before, command, now)
            states = [before]
            for event in events:
                states.append(evolve(states[-1], event))
            return events, states
        except Exception as error:  # decide never raises by design
            raise UndecidableCommand(f"{command.envelope.type} {command.envelope.command_id} for job "
                                     f"{command.envelope.job_id}: decide failed: {type(error).__name__}: {error}"
                                     ) from error

    def _send(self, states: list[JobState], events: list[JobEvent], namespace: str, partition: int,
              batch: Batch[JobState]) -> None:
        before, after = states[0], states[-1]
        encode, key, topic = self.codec.encode, after.job_id.encode(), self.topics.events
        for event in events:  # co-partitioned: the events of a job go where its commands are
            batch.send(topic, key, encode(event, topic), partition)
            counted = (event.envelope.type, namespace)
            self.tally.events[counted] += 1
            if isinstance(event, (CommandRejected, ReportRejected)):
                self.tally.rejections[counted] += 1
        self.tally.stages += stage_latencies(before, events)
        self.tally.finished.update((result, namespace) for result in finished_results(events))
        for out_topic, out_key, record in side_effect_messages(self.topics, before, after, events, states):
            batch.send(out_topic, out_key.encode(), encode(record, out_topic), self.partition_of(out_key))

    def _forward(self, message: Message, home: int, batch: Batch[JobState]) -> None:
        """A command on a partition its job does not hash to (a producer with another partitioner):
        a job's state lives in one partition, so it goes there, in this transaction, unchanged."""
        self.tally.forwarded += 1
        log.debug("command at %s[%d]@%d belongs to partition %d: forwarded", message.topic(), message.partition(),
                  message.offset(), home)
        batch.send(self.topics.commands, message.key(), message.value(), home, message.headers())

    def _set_aside(self, message: Message, reason: str, batch: Batch[JobState]) -> None:
        self.tally.poison += 1
        batch.set_aside(message, reason, self.topics.poison)

    def handled(self, batch: Batch[JobState]) -> None:
        pass  # each command is decided as it comes

    # -- retirement ---------------------------------------------------------------------------

    def punctuate(self, batch: Batch[JobState], owned: frozenset[int]) -> None:
        """Save states rebuilt from the events to the changelog; slim settled jobs down to their
        tombstone once settled for the retention: memory grows with the jobs going on, not with
        every job ever run."""
        self._save_rebuilt(batch, owned)
        if time.monotonic() < self.next_retire:
            return
        self.next_retire = time.monotonic() + RETIRE_EVERY_S
        self._rearm_overdue(batch, owned)
        cutoff = self.clock() - self.retention
        while self.settling and self.settling[0][0] <= cutoff and self.tally.retired < RETIRE_AT_MOST:
            entry = heapq.heappop(self.settling)
            self.popped.append(entry)
            _, partition, job_id = entry
            if partition not in owned:
                continue  # moved to another instance, which found it on restore
            state = batch.get(partition, job_id)
            if state is None or state.status not in SETTLED or state.spec is None or state.active_runs:
                continue  # slim already, or still hearing from its runs
            batch.put(partition, job_id, tombstone(state))
            self.tally.retired += 1

    def _rearm_overdue(self, batch: Batch[JobState], owned: frozenset[int]) -> None:
        """Send the timers still pending long after they were due again (``core/timer_watch.py``)."""
        topic = self.topics.timer_requests
        for job_id, timer in self.timers.overdue(self.clock(), owned, batch.get):
            change = TimerChange(job_id=job_id, arm=[timer], caused_by=f"rearm:{timer.timer_id}")
            batch.send(topic, job_id.encode(), self.codec.encode(change, topic), self.partition_of(job_id))
            self.tally.rearmed[timer.purpose] += 1
        if self.tally.rearmed:
            log.warning("armed %d overdue timers again (the timer processor had not fired them)",
                        sum(self.tally.rearmed.values()))

    def _save_rebuilt(self, batch: Batch[JobState], owned: frozenset[int]) -> None:
        """One partition's rebuilt states per transaction, all of them: a crash leaves its
        changelog either empty (rebuilt again) or whole, never half."""
        for partition in [p for p in self.unsaved if p not in owned]:
            del self.unsaved[partition]  # moved away: its new owner rebuilds it
        if not self.unsaved:
            return
        partition, job_ids = next(iter(self.unsaved.items()))
        self.saving = {partition: self.unsaved.pop(partition)}
        for job_id in job_ids:
            state = batch.get(partition, job_id)
            if state is not None:
                batch.put(partition, job_id, state)  # the store has it already; the changelog not yet

    # -- the transaction's end ----------------------------------------------------------------

    def committed(self) -> None:
        self.tally.publish()
        self.tally = Tally()
        for entry in self.settled_now:
            heapq.heappush(self.settling, entry)
        self.settled_now, self.popped = [], []
        self.saving = {}
        self.timers.committed()

    def aborted(self) -> None:
        self.unsaved |= self.saving
        self.saving = {}
        self.tally = Tally()
        for entry in self.popped:
            heapq.heappush(self.settling, entry)
        self.settled_now, self.popped = [], []
        self.next_retire = time.monotonic()
        self.timers.aborted()

    # -- partitions ---------------------------------------------------------------------------

    def assigned(self, partition: int, table: MutableMapping[str, JobState]) -> None:
        """Rebuild an empty store from the events (``state_bootstrap``), then queue the partition's
        settled jobs for retirement."""
        if not table:
            rebuilt = fold_events(self.settings, self.codec, self.topics.events, partition, BOOTSTRAP_TIMEOUT_S)
            table.update(rebuilt)
            if rebuilt:
                self.unsaved[partition] = list(rebuilt)
        for job_id, state in table.items():
            if state.status in SETTLED and state.spec is not None and state.updated_at is not None:
                heapq.heappush(self.settling, (state.updated_at, partition, job_id))
        self.timers.restored(table.values(), partition)

    def revoked(self, partition: int) -> None:
        pass  # its entries in ``settling`` are skipped when they come up


def engine_config(settings: Settings, instance_id: str | None) -> EngineConfig:
    topics = Topics(settings.topic_prefix)
    return EngineConfig(app_id=topics.state_processor_app, input_topics=(topics.commands,),
                        changelog_topic=topics.state_processor_changelog, instance_id=instance_id)


def run_state_processor(settings: Settings, instance_id: str | None = None,
                               metrics_port: int | None = None) -> None:
    metrics.serve(metrics_port)
    ensure_all_topics(settings)
    codec = make_codec(settings.schema_registry_url)
    shell: set[str] = set()
    rules = QuotaWatch(settings, Topics(settings.topic_prefix).keys, codec, partial(fold_shell, shell),
                       "state-processor-rules")
    rules.start()
    secret = load_reports_secret(settings)
    if secret is None:
        log.warning("worker reports are not checked: any worker may report for any worker id (set %s; "
                    "docs/security.md)", REPORTS_SECRET_FILE)
    handler = StateHandler(settings, rules=rules, shell_namespaces=shell, reports_secret=secret)
    serde = StateSerde(handler.codec, handler.topics.state_processor_changelog)
    engine = Engine(settings, engine_config(settings, instance_id), handler, serde)
    signal.signal(signal.SIGTERM, engine.stop)
    signal.signal(signal.SIGINT, engine.stop)
    try:
        code = engine.run()
    finally:
        rules.stop()
    raise SystemExit(code)

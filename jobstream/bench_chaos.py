"""`jobstream bench chaos`: a mixed workload on the 3-node cluster with two instances of every
processor and two workers, while a random process is killed with SIGKILL every few seconds and
restarted (a processor or worker by the supervisor's restart policy; a broker node or Postgres by
the bench). When the load ends it waits for quiescence (every job terminal, the read model caught
up), replays the events into a fresh schema, reads them afresh and prints the checks of
``chaos_checks`` as JSON. A run that did not quiesce or broke a check keeps its topics and schemas.
"""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from confluent_kafka import Consumer, KafkaError, Message, TopicPartition

from jobstream.bench_run import bench_run, reader_group, say
from jobstream.chaos_checks import final_status, histories, verdict, violations
from jobstream.chaos_plan import PYTHON_MODULE, Kill, Planned, kill_schedule, workload
from jobstream.clock import new_job_id
from jobstream.config import Settings
from jobstream.core.lifecycle import TERMINAL
from jobstream.infra.kafka_cluster import LocalKafkaCluster
from jobstream.infra.postgres import LocalPostgres
from jobstream.infra.process import InfraError, wait_until
from jobstream.infra.topics import Topics
from jobstream.projections.replay import replay
from jobstream.projections.schema import connect, drop_schema
from jobstream.schemas import CancelJob, JobEvent, SubmitJob, make_codec
from jobstream.streams.fetch_guard import FetchGuard
from jobstream.streams.kafka_io import Publisher, command_envelope, consumer_config
from jobstream.supervisor import Supervisor, supervised

DOWN_S = 3.0  # how long a killed broker node or Postgres stays down before the bench restarts it
# The read model's tables compared with a replay, by their key column.
COMPARED = {"jobs": "job_id", "executions": "execution_id", "job_events": "event_id"}


def stack(schema: str, instances: int = 2, workers: int = 2) -> list[tuple[str, list[str]]]:
    """Every processor ``instances`` times (each with its own id), and the workers."""
    processors = [("state-processor", ["state-processor"]), ("dispatcher", ["dispatcher"]),
                  ("timers", ["timer-processor"]), ("monitor", ["worker-monitor"])]
    children = [(f"{name}-{n}", [*args, "--instance-id", f"{name}-{n}"])
                for name, args in processors for n in range(1, instances + 1)]
    children += [(f"{name}-{n}", [name, "--schema", schema])
                 for name in ("projector", "logs-projector") for n in range(1, instances + 1)]
    worker = ["worker", "--slots", "4", "--allow-module", PYTHON_MODULE]
    return children + [(f"worker-{n}", worker) for n in range(1, workers + 1)]


class Killer:
    """Carries out the kill schedule from a thread, one target down at a time; records what it did."""

    def __init__(self, supervisor: Supervisor, cluster: LocalKafkaCluster, postgres: LocalPostgres | None) -> None:
        self.supervisor, self.cluster, self.postgres = supervisor, cluster, postgres
        self.done: list[dict[str, Any]] = []

    def targets(self) -> list[str]:
        brokers = [f"broker-{node.node_id}" for node in self.cluster.nodes]
        return [c.name for c in self.supervisor.children] + brokers + (["postgres"] if self.postgres else [])

    def run(self, schedule: list[Kill], started: float, stop: threading.Event, gap_s: float) -> None:
        ready_at = started
        for kill in schedule:
            # On time, but never sooner than half an interval after the last target came back.
            if stop.wait(max(started + kill.at_s, ready_at) - time.monotonic()):
                return
            at = round(time.monotonic() - started, 1)
            try:
                pid, back_s = self.kill(kill.target)
            except (InfraError, OSError) as error:  # the run goes on; the failure is in the schedule
                self.done.append({"at_s": at, "target": kill.target, "error": str(error)})
                continue
            self.done.append({"at_s": at, "target": kill.target, "pid": pid, "back_after_s": back_s})
            ready_at = time.monotonic() + gap_s
            say(f"{at:7.1f}s SIGKILL {kill.target} (pid {pid}); back after {back_s}s")

    def kill(self, target: str) -> tuple[int | None, float]:
        """SIGKILL ``target``; return its pid and how long until it was back."""
        started = time.monotonic()
        if target.startswith("broker-"):
            node = int(target.removeprefix("broker-"))
            pid = self.cluster.node(node).running_pid()
            if pid is not None:
                os.kill(pid, signal.SIGKILL)
            time.sleep(DOWN_S)  # a deliberate outage, not synchronisation
            self.cluster.restart_node(node)
        elif target == "postgres":
            assert self.postgres is not None
            pid = self.postgres.running_pid()
            if pid is not None:
                os.kill(pid, signal.SIGKILL)
            time.sleep(DOWN_S)
            _restart_postgres(self.postgres)
        else:
            process = self.supervisor.child(target).process
            pid = process.pid if process is not None else None
            if pid is not None:
                os.killpg(pid, signal.SIGKILL)  # the supervisor restarts it within 0.5 s
        return pid, round(time.monotonic() - started, 1)


def _restart_postgres(postgres: LocalPostgres, timeout_s: float = 60.0) -> None:
    """Start Postgres again; its orphaned backends may hold the shared memory a moment longer."""
    def started() -> bool:
        try:
            postgres.up()
            return True
        except InfraError:
            return False

    wait_until(started, timeout_s, "postgres to start again after SIGKILL", 1.0)


class EventLog:
    """The events topic of the run, every partition from offset 0, decoded, in arrival order.

    librdkafka can stop fetching a partition of an assigned (not subscribed) consumer after a
    broker node restarts (confluentinc/librdkafka#5153): a chaos run's reader once stayed 2 jobs
    short for 7 minutes that way, while the read model and a fresh replay agreed, and an EOF seen
    before the stall kept it looking caught up. So a ``FetchGuard`` watches it, and a stalled
    consumer is replaced at the same positions (counted in ``reopened``)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.topic = Topics(settings.topic_prefix).events
        self.codec = make_codec(settings.schema_registry_url)
        self.events: list[JobEvent] = []
        self.next = dict.fromkeys(range(settings.partitions), 0)  # the offset each partition resumes at
        self.at_end = dict.fromkeys(self.next, False)
        self.reopened = 0
        self.consumer, self.guard = self._open()

    def _open(self) -> tuple[Consumer, FetchGuard]:
        config = consumer_config(self.settings, reader_group(self.settings, "chaos-events"),
                                 **{"enable.partition.eof": True})
        consumer = Consumer(config)
        start = [TopicPartition(self.topic, p, offset) for p, offset in self.next.items()]
        consumer.assign(start)
        return consumer, FetchGuard(consumer, start)

    def poll(self, seconds: float = 0.2) -> None:
        for message in self.consumer.consume(2000, seconds):
            partition, offset, error = message.partition(), message.offset(), message.error()
            if partition not in self.next:
                continue  # a client-wide error, not a partition's
            if error is None and offset is not None:
                self.events.append(self.codec.decode(message.value(), topic=message.topic(),  # type: ignore[arg-type]
                                                     partition=partition, offset=offset))
                self.next[partition] = offset + 1
            self.at_end[partition] = error is not None and error.code() == KafkaError._PARTITION_EOF
        if self.guard.stalled():
            self.consumer.close()
            self.consumer, self.guard = self._open()
            self.reopened += 1

    def read_to_end(self, timeout_s: float = 120.0) -> None:
        """Poll until every partition is at its end (the stack has stopped: nothing more will come)."""
        def at_end() -> bool:
            self.poll()
            return all(self.at_end.values())

        wait_until(at_end, timeout_s, "the chaos run's event reader to reach the end of every partition", 0.0)

    def close(self) -> None:
        self.consumer.close()


def unfinished(events: list[JobEvent], expected: list[str]) -> int:
    jobs = histories(events)
    return sum(1 for job in set(jobs) | set(expected) if final_status(jobs.get(job, [])) not in TERMINAL)


def projection_behind(settings: Settings, schema: str, events: list[JobEvent]) -> int:
    """Jobs whose row is missing or older than their last event (the read model is not caught up)."""
    last = {job: history[-1].envelope.seq for job, history in histories(events).items()}
    try:
        with connect(settings.database_url, schema) as conn:
            rows = dict(conn.execute("SELECT job_id, seq FROM jobs").fetchall())
    except psycopg.Error:
        return len(last)
    return sum(1 for job, seq in last.items() if rows.get(job) != seq)


def table_rows(settings: Settings, schema: str) -> dict[tuple[str, str], dict[str, Any]]:
    """Every row of the compared tables, keyed by (table, key)."""
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    with connect(settings.database_url, schema) as conn:
        for table, key in COMPARED.items():
            cursor = conn.execute(f"SELECT * FROM {table}")  # noqa: S608 - table names are ours
            names = [column.name for column in cursor.description or []]
            for values in cursor.fetchall():
                row = dict(zip(names, values, strict=True))
                rows[(table, str(row[key]))] = row
    return rows


def wait_quiet(log: EventLog, settings: Settings, schema: str, expected: list[str],
               timeout_s: float) -> float | None:
    """Seconds until every job is terminal and the read model has caught up with the events; None
    when that did not happen within ``timeout_s`` (the checks then say what is missing)."""
    started, said = time.monotonic(), [0.0]

    def quiet() -> bool:
        log.poll()
        left, behind = unfinished(log.events, expected), projection_behind(settings, schema, log.events)
        if time.monotonic() - said[0] > 15:
            say(f"{time.monotonic() - started:6.0f}s: {left} jobs unfinished, the read model behind on {behind}")
            said[0] = time.monotonic()
        return left == 0 and behind == 0

    try:
        wait_until(quiet, timeout_s, "quiescence (every job terminal, the read model caught up)", 0.5)
    except InfraError as error:
        say(str(error))
        return None
    return round(time.monotonic() - started, 1)


@dataclass
class Submitted:
    """What the broker said of the load's submits: resent after an error, never acknowledged."""

    resent: int = 0
    acked: set[str] = field(default_factory=set)


def submit_paced(publisher: Publisher, planned: list[Planned], started: float, tick: Callable[[], None]) -> Submitted:
    """Send each planned job at its time; a command the broker did not acknowledge (a node killed
    while it was in flight) is sent again until one is, as any client must."""
    commands = {job.job_id: SubmitJob(envelope=command_envelope(SubmitJob, job.job_id, "chaos-bench"), spec=job.spec)
                for job in planned}
    failed: list[str] = []
    submitted = Submitted()

    def delivered(error: KafkaError | None, message: Message) -> None:
        job_id = (message.key() or b"").decode()
        if error is None:
            submitted.acked.add(job_id)
        else:
            failed.append(job_id)

    for job in planned:
        while time.monotonic() < started + job.at_s:
            tick()
        publisher.send_command(commands[job.job_id], delivered)
        publisher.poll(0)
    while publisher.flush(5) or failed:
        again, failed[:] = list(failed), []
        for job_id in again:
            publisher.send_command(commands[job_id], delivered)
        submitted.resent += len(again)
        tick()
    return submitted


def run_chaos(base: Settings, cluster: LocalKafkaCluster, postgres: LocalPostgres | None, jobs: int,
              duration_s: float, every_s: float = 5.0, seed: int = 11, keep: bool = False,
              quiesce_timeout_s: float = 600.0) -> dict[str, Any]:
    """The whole bench; ``base`` must reach ``cluster`` (and ``postgres``, when given, to kill it)."""
    settings = base.with_(external_kafka=cluster.bootstrap, kafka_brokers=len(cluster.ports))
    with bench_run(settings, "chaos", keep) as run:
        schema = f"chaos_{uuid.uuid4().hex[:8]}"
        ledger = run.log_dir / "ledger"
        ledger.touch(mode=0o666)
        planned = workload(jobs, duration_s, str(ledger), [new_job_id() for _ in range(jobs + 20)], seed)
        expected = [job.job_id for job in planned]
        publisher, log = Publisher(run.settings), EventLog(run.settings)
        with (run.log_dir / "stack.log").open("w") as out, supervised(run.settings, stack(schema), out) as sup:
            killer, stop = Killer(sup, cluster, postgres), threading.Event()
            schedule = kill_schedule(killer.targets(), duration_s, every_s, seed)
            started = time.monotonic()
            chaos = threading.Thread(target=killer.run, args=(schedule, started, stop, every_s / 2),
                                     daemon=True)
            chaos.start()
            try:
                submitted = submit_paced(publisher, planned, started, log.poll)
                while chaos.is_alive():
                    log.poll()
                    chaos.join(0)
            finally:
                stop.set()
                chaos.join()
            publisher.send_command(CancelJob(envelope=command_envelope(CancelJob, planned[0].job_id, "chaos-bench")))
            publisher.flush()
            say(f"load ended after {time.monotonic() - started:.0f}s and {len(killer.done)} kills; waiting for quiet")
            quiesce_s = wait_quiet(log, run.settings, schema, expected, quiesce_timeout_s)
        log.close()
        final = EventLog(run.settings)  # the checks read the topic afresh, as the replay does
        final.read_to_end()
        final.close()
        result = _checked(run.settings, schema, final.events, expected, ledger)
        result.update({"submits_resent": submitted.resent, "event_reader_reopened": log.reopened + final.reopened,
                       "submits_never_acknowledged": len(set(expected) - submitted.acked),
                       "quiesced": quiesce_s is not None, "time_to_quiesce_s": quiesce_s, "duration_s": duration_s,
                       "kill_every_s": every_s, "kills": killer.done})
        run.keep = keep or not result["quiesced"] or bool(result["violations"])
        if run.keep:
            say(f"kept the read model (schema {schema}) and its replay ({schema}_replay)")
        else:
            _drop(run.settings, schema, f"{schema}_replay")
    return result


def _checked(settings: Settings, schema: str, events: list[JobEvent], expected: list[str],
             ledger: Path) -> dict[str, Any]:
    replay(settings, f"{schema}_replay")
    runs = [tuple(line.split()[:2]) for line in ledger.read_text().splitlines() if line.strip()]
    result = verdict(events, expected, runs,  # type: ignore[arg-type]
                     table_rows(settings, schema), table_rows(settings, f"{schema}_replay"))
    result["violations"] = violations(result)
    return result


def _drop(settings: Settings, *schemas: str) -> None:
    for schema in schemas:
        with connect(settings.database_url, schema) as conn:
            drop_schema(conn, schema)

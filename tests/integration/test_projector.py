"""The projector against the real broker and Postgres: rows, duplicates, poison, NOTIFY, restart, replay."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any, cast

import psycopg
import pytest
from confluent_kafka import Consumer, KafkaError, Message, TopicPartition

from jobstream.config import Settings
from jobstream.core.decide import decide, retry_timer_id
from jobstream.core.state import JobState, evolve
from jobstream.infra.topics import Topics, ensure_topics
from jobstream.projections.projector import Projector
from jobstream.projections.replay import replay
from jobstream.projections.schema import connect, drop_schema, notify_channel
from jobstream.projections.store import TABLES, table_rows
from jobstream.schemas import (
    AssignJob,
    CancelJob,
    Command,
    ExpireExecution,
    FireTimer,
    JobEvent,
    Outcome,
    Record,
    ReportFinished,
    ReportProgress,
    ReportStarted,
    SubmitJob,
    Template,
    TemplateVersion,
    TimerPurpose,
    WorkerDeregistered,
    WorkerDraining,
    WorkerEnvelope,
    WorkerEvent,
    WorkerHeartbeat,
    WorkerLost,
    WorkerRegistered,
)
from jobstream.streams.kafka_io import Publisher
from tests.unit.builders import T0, command, retrying, spec


class Script:
    """Jobs driven through decide/evolve, and worker events, in the order a cluster would emit them."""

    def __init__(self) -> None:
        self.states: dict[str, JobState] = {}
        self.worker_seq: dict[str, int] = {}
        self.records: list[Record] = []
        self.clock = T0

    def do(self, job_id: str, cls: type[Command], **fields: Any) -> list[JobEvent]:
        self.clock += timedelta(milliseconds=250)
        state = self.states.get(job_id, JobState(job_id))
        events = decide(state, command(cls, job_id=job_id, **fields), self.clock)
        for event in events:
            state = evolve(state, event)
        self.states[job_id] = state
        self.records += events
        return events

    def lease(self, job_id: str, worker_id: str = "w1", **fields: Any) -> dict[str, Any]:
        state = self.states[job_id]
        return {"execution_id": state.execution_id, "attempt": state.attempt, "worker_id": worker_id, **fields}

    def start(self, job_id: str, worker_id: str = "w1") -> None:
        self.do(job_id, AssignJob, **self.lease(job_id, worker_id))
        self.do(job_id, ReportStarted, **self.lease(job_id, worker_id, pid=100))

    def finish(self, job_id: str, outcome: Outcome, worker_id: str = "w1", **fields: Any) -> list[Any]:
        return self.do(job_id, ReportFinished, **self.lease(job_id, worker_id, outcome=outcome, **fields))

    def worker(self, cls: type[WorkerEvent], worker_id: str, **fields: Any) -> WorkerEvent:
        self.clock += timedelta(milliseconds=250)
        seq = self.worker_seq[worker_id] = self.worker_seq.get(worker_id, 0) + 1
        envelope = WorkerEnvelope(event_id=f"{worker_id}:{seq}", worker_id=worker_id, seq=seq, type=cls.short_name(),
                                  occurred_at=self.clock, actor=worker_id)
        event = cls(envelope=envelope, **fields)
        self.records.append(event)
        return event

    def template(self, name: str, *argvs: list[str]) -> Template:
        """A template with one version per argv, as the API publishes it after its last version."""
        self.clock += timedelta(milliseconds=250)
        versions = [TemplateVersion(version=n, spec_json=f'{{"name": "{name}", "task": {{"type": "shell", '
                                                             f'"argv": {json.dumps(argv)}}}}}', created_at=self.clock)
                    for n, argv in enumerate(argvs, start=1)]
        template = Template(name=name, versions=versions)
        self.records.append(template)
        return template


def scenario() -> Script:
    s = Script()
    for w in ("w1", "w2"):
        s.worker(WorkerRegistered, w, hostname=f"host-{w}", pid=10, queues=["default"], slots=2, cpu=4.0,
                 memory_mb=8192, labels={"zone": "a"})
    s.do("job-ok", SubmitJob, spec=spec(name="ok", labels={"team": "data"}))
    s.do("job-retry", SubmitJob, spec=spec(name="retry", retry=retrying(max_attempts=2, initial=5.0)))
    s.do("job-cancel", SubmitJob, spec=spec(name="cancel"))
    s.do("job-lost", SubmitJob, spec=spec(name="lost"))
    s.do("ghost", CancelJob)  # never submitted: a CommandRejected is its only event
    s.start("job-ok")
    s.do("job-ok", ReportProgress, **s.lease("job-ok", percent=50.0, message="half"))
    s.worker(WorkerHeartbeat, "w1", running=["job-ok.1"], free_slots=1)
    s.finish("job-ok", Outcome.SUCCEEDED, exit_code=0, result_json='{"n": 1}', stdout_tail="done", duration_ms=40)
    s.start("job-retry")
    _, retry = s.finish("job-retry", Outcome.FAILED, exit_code=2)
    s.do("job-retry", FireTimer, timer_id=retry_timer_id("job-retry", 2), due_at=retry.retry_at,
         purpose=TimerPurpose.RETRY)
    s.start("job-retry", "w2")
    s.finish("job-retry", Outcome.FAILED, "w2", exit_code=3)  # the last attempt: failed and dead-lettered
    s.start("job-cancel")
    s.do("job-cancel", CancelJob)
    s.start("job-lost", "w2")
    s.do("job-lost", ExpireExecution, **s.lease("job-lost", "w2", reason="worker w2 lost"))
    s.worker(WorkerLost, "w2", last_heartbeat_at=T0, reason="no heartbeat")
    s.finish("job-lost", Outcome.SUCCEEDED, "w2", attempt=1)  # the lost worker wakes up: ReportRejected
    s.start("job-lost", "w1")
    s.finish("job-lost", Outcome.SUCCEEDED, exit_code=0)
    s.worker(WorkerHeartbeat, "w1", running=[], free_slots=2)
    s.worker(WorkerDraining, "w1")
    s.worker(WorkerDeregistered, "w1")
    s.template("greet", ["echo", "hi"])
    s.template("greet", ["echo", "hi"], ["echo", "{{who}}"])  # its second version: the value holds both
    return s


# ---------------------------------------------------------------- Kafka helpers


def produce(settings: Settings, records: list[Record], *, duplicate: list[Record], garbage_key: bytes) -> Message:
    """Publish the records (plus duplicates and one undecodable message); returns where the garbage landed."""
    topics = Topics(settings.topic_prefix)
    publisher = Publisher(settings)
    delivered: list[Message] = []
    half = len(records) // 2

    def send(record: Record) -> None:
        if isinstance(record, WorkerEvent):
            publisher.publish(topics.workers, record.envelope.worker_id, record)
        elif isinstance(record, Template):
            publisher.publish(topics.templates, record.name, record)
        else:
            publisher.publish(topics.events, record.envelope.job_id, record)  # type: ignore[attr-defined]

    for record in records[:half]:
        send(record)
    publisher.producer.produce(topics.events, key=garbage_key, value=b"not avro",
                               on_delivery=lambda err, msg: delivered.append(msg))
    for record in records[half:] + duplicate:
        send(record)
    assert publisher.flush(30) == 0
    publisher.producer.close()
    assert len(delivered) == 1 and delivered[0].error() is None
    return delivered[0]


def read_all(settings: Settings, topic: str) -> list[Message]:
    """Every message of a one-partition topic, up to its current end."""
    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": "reader",
                         "enable.auto.commit": False, "enable.partition.eof": True})
    try:
        _, high = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
        if high == 0:
            return []
        consumer.assign([TopicPartition(topic, 0, 0)])
        messages: list[Message] = []
        while not messages or (messages[-1].offset() or 0) < high - 1:
            message = consumer.poll(10)
            assert message is not None, f"timed out reading {topic}"
            error = message.error()
            if error is None:
                messages.append(message)
            elif error.code() != KafkaError._PARTITION_EOF:
                raise AssertionError(error)
        return messages
    finally:
        consumer.close()


def high_watermarks(settings: Settings) -> dict[tuple[str, int], int]:
    topics = Topics(settings.topic_prefix)
    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": "watermarks"})
    try:
        read = [(t, p) for t in (topics.events, topics.workers, topics.templates) for p in range(settings.partitions)]
        read.append((topics.poison, 0))  # for the commands set aside (it has one partition)
        return {(t, p): consumer.get_watermark_offsets(TopicPartition(t, p), timeout=10)[1] for t, p in read}
    finally:
        consumer.close()


# ---------------------------------------------------------------- fixtures


@pytest.fixture
def produced(test_settings: Settings) -> tuple[Script, Message]:
    ensure_topics(test_settings.kafka_bootstrap, Topics(test_settings.topic_prefix).specs(test_settings.partitions))
    script = scenario()
    job_ok_started = next(r for r in script.records if r.envelope.type == "JobStarted")  # type: ignore[attr-defined]
    heartbeat = next(r for r in script.records if isinstance(r, WorkerHeartbeat))
    garbage = produce(test_settings, script.records, duplicate=[job_ok_started, heartbeat], garbage_key=b"job-ok")
    return script, garbage


@pytest.fixture
def schema(database_url: str, unique_name: str) -> Iterator[str]:
    yield unique_name
    with connect(database_url, unique_name) as conn:
        drop_schema(conn, unique_name)


def snapshot(database_url: str, schema: str) -> dict[str, list[tuple[Any, ...]]]:
    with connect(database_url, schema) as conn:
        return {table: sorted(table_rows(conn, table), key=repr) for table in TABLES}


def rows(database_url: str, schema: str, query: str) -> list[tuple[Any, ...]]:
    with connect(database_url, schema) as conn:
        return conn.execute(query).fetchall()  # type: ignore[arg-type]


def counters(database_url: str, schema: str) -> list[tuple[Any, ...]]:
    """job_counts without the counters at zero (which batches of other sizes may never write)."""
    return rows(database_url, schema,
                "SELECT namespace, status, queue, n FROM job_counts WHERE n <> 0 ORDER BY 1, 2, 3")


# ---------------------------------------------------------------- tests


def test_projector_builds_the_read_model(test_settings: Settings, produced: tuple[Script, Message],
                                         schema: str, database_url: str) -> None:
    script, garbage = produced
    listener = psycopg.connect(database_url, autocommit=True)
    listener.execute(f"LISTEN {notify_channel(schema)}")  # type: ignore[arg-type]

    with Projector(test_settings, schema) as projector:
        counts = projector.run_until_caught_up(timeout_s=60)
    assert (counts.applied, counts.duplicates, counts.poisoned) == (len(script.records), 2, 1)

    query = "SELECT job_id, status, attempt, tries, worker_id, exit_code, last_error FROM jobs"
    jobs = {r[0]: r[1:] for r in rows(database_url, schema, query)}
    assert jobs == {
        "job-ok": ("completed", 1, 1, "w1", 0, None),
        "job-retry": ("failed", 2, 2, "w2", 3, "exited with code 3"),
        "job-cancel": ("cancelled", 1, 1, "w1", None, None),
        "job-lost": ("completed", 2, 2, "w1", 0, None),
    }
    # the overview's counters, kept by triggers through every batch's upserts, agree with the rows
    assert counters(database_url, schema) == rows(database_url, schema, (
        "SELECT namespace, status, queue, count(*) FROM jobs GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"))
    assert sum(n for *_, n in counters(database_url, schema)) == len(jobs)
    for job_id, state in script.states.items():  # the rows agree with the core's own fold
        if job_id in jobs:
            [(seq, status, updated_at)] = rows(database_url, schema,
                                               f"SELECT seq, status, updated_at FROM jobs WHERE job_id = '{job_id}'")
            assert (seq, status, updated_at) == (state.seq, state.status, state.updated_at)

    executions = rows(database_url, schema,
                      "SELECT execution_id, status, worker_id, progress_percent, result_json FROM executions")
    assert sorted(executions) == [
        ("job-cancel.1", "cancelled", "w1", None, None),
        ("job-lost.1", "lost", "w2", None, None),
        ("job-lost.2", "succeeded", "w1", None, None),
        ("job-ok.1", "succeeded", "w1", 50.0, '{"n": 1}'),
        ("job-retry.1", "failed", "w1", None, None),
        ("job-retry.2", "failed", "w2", None, None),
    ]
    workers = rows(database_url, schema, "SELECT worker_id, status, seq, slots, free_slots, running FROM workers")
    assert sorted(workers) == [("w1", "deregistered", 5, 2, 2, []), ("w2", "lost", 2, 2, 2, [])]
    templates = rows(database_url, schema, "SELECT name, latest, versions->1->'spec'->'task'->'argv' FROM templates")
    assert templates == [("greet", 2, ["echo", "{{who}}"])]

    # every job event exactly once, in seq order, the ghost's rejection included
    expected = sorted((e.envelope.job_id, e.envelope.seq, e.envelope.event_id, e.envelope.type)
                      for e in script.records if isinstance(e, JobEvent))
    query = "SELECT job_id, seq, event_id, type FROM job_events ORDER BY job_id, seq"
    assert rows(database_url, schema, query) == expected
    assert rows(database_url, schema, "SELECT job_id FROM jobs WHERE job_id = 'ghost'") == []

    # the garbage is on the poison topic with its origin, and every partition was read to its end
    [poison] = read_all(test_settings, Topics(test_settings.topic_prefix).poison)
    headers = {key: value.decode() for key, value in cast(list[tuple[str, bytes]], poison.headers() or [])}
    assert poison.value() == b"not avro" and poison.key() == b"job-ok"
    assert (headers["origin.topic"], headers["origin.partition"], headers["origin.offset"]) == (
        garbage.topic(), str(garbage.partition()), str(garbage.offset()))
    stored = {(t, p): o for t, p, o in rows(database_url, schema, "SELECT * FROM projection_offsets")}
    assert stored == {k: v for k, v in high_watermarks(test_settings).items() if v > 0}

    # one notification per job, on the schema's channel
    expected_ids, heard = {"job-ok", "job-retry", "job-cancel", "job-lost", "ghost", "template:greet"}, set()
    for notification in listener.notifies(timeout=5):
        assert notification.channel == f"{schema}_jobs"
        heard.add(notification.payload)
        if heard >= expected_ids:
            break
    listener.close()
    assert heard == expected_ids

    # a restarted projector resumes from the offsets stored in Postgres: it reads only what is new
    late = script.do("job-ok", CancelJob)  # rejected: the job is completed
    publisher = Publisher(test_settings)
    publisher.publish(Topics(test_settings.topic_prefix).events, "job-ok", late[0])
    publisher.flush(30)
    publisher.producer.close()
    with Projector(test_settings, schema) as projector:
        counts = projector.run_until_caught_up(timeout_s=60)
    assert (counts.messages, counts.applied) == (1, 1)
    assert rows(database_url, schema, "SELECT status, seq FROM jobs WHERE job_id = 'job-ok'") == [
        ("completed", late[0].envelope.seq)]


def test_replay_rebuilds_identical_rows(test_settings: Settings, produced: tuple[Script, Message],
                                        schema: str, database_url: str) -> None:
    script, _ = produced
    with Projector(test_settings, schema) as projector:
        projector.run_until_caught_up(timeout_s=60)
    live, live_counters = snapshot(database_url, schema), counters(database_url, schema)
    assert all(live[table] for table in TABLES) and live_counters

    progress: list[tuple[int, int]] = []
    result = replay(test_settings, schema, progress=lambda done, total: progress.append((done, total)))

    assert (result["applied"], result["duplicates"], result["poisoned"]) == (len(script.records), 2, 1)
    # the progress bar's feed: never past the total, ending at it (every message of the topics read)
    assert progress[-1] == (result["messages"], result["messages"]) and all(d <= t for d, t in progress)
    rebuilt = snapshot(database_url, schema)
    for table in TABLES:
        assert rebuilt[table] == live[table], f"{table} differs after replay"
    assert counters(database_url, schema) == live_counters
    assert len(read_all(test_settings, Topics(test_settings.topic_prefix).poison)) == 1  # not set aside twice


def test_live_projector_notifies_and_survives_a_dropped_connection(
        test_settings: Settings, schema: str, database_url: str) -> None:
    ensure_topics(test_settings.kafka_bootstrap, Topics(test_settings.topic_prefix).specs(test_settings.partitions))
    topics, publisher = Topics(test_settings.topic_prefix), Publisher(test_settings)
    listener = psycopg.connect(database_url, autocommit=True)
    listener.execute(f"LISTEN {notify_channel(schema)}")  # type: ignore[arg-type]
    stop = threading.Event()
    projector = Projector(test_settings, schema)
    thread = threading.Thread(target=projector.run, args=(stop,), daemon=True)
    thread.start()
    try:
        def submit_and_wait(job_id: str) -> None:
            """Read-your-writes as the API does it: publish, then wait for the job's notification."""
            script = Script()
            script.do(job_id, SubmitJob, spec=spec(name=job_id))
            for event in script.records:
                publisher.publish(topics.events, job_id, event)
            publisher.flush(30)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                for notification in listener.notifies(timeout=max(0.0, deadline - time.monotonic()), stop_after=1):
                    if notification.payload != job_id:
                        continue
                    # notified only after commit: the row is there (maybe not yet with both events)
                    [(seq,)] = rows(database_url, schema, f"SELECT seq FROM jobs WHERE job_id = '{job_id}'")
                    if seq == 2:
                        return
            raise AssertionError(f"no notification for {job_id}")

        submit_and_wait("first")
        dropped = projector.conn.info.backend_pid
        with psycopg.connect(database_url, autocommit=True) as admin:  # the database drops the projector
            admin.execute("SELECT pg_terminate_backend(%s)", (dropped,))
        submit_and_wait("second")
        assert thread.is_alive() and projector.conn.info.backend_pid != dropped
    finally:
        stop.set()
        thread.join(10)
        projector.close()
        listener.close()
        publisher.producer.close()
    assert rows(database_url, schema, "SELECT job_id, seq FROM jobs ORDER BY job_id") == [("first", 2), ("second", 2)]


def test_run_projector_stops_cleanly_on_sigterm(test_settings: Settings, schema: str, database_url: str) -> None:
    ensure_topics(test_settings.kafka_bootstrap, Topics(test_settings.topic_prefix).specs(test_settings.partitions))
    env = {**os.environ, "JOBSTREAM_KAFKA_BOOTSTRAP": test_settings.kafka_bootstrap,
           "JOBSTREAM_DATABASE_URL": database_url, "JOBSTREAM_TOPIC_PREFIX": test_settings.topic_prefix}
    code = f"from jobstream.config import Settings; from jobstream.projections.projector import run_projector; " \
           f"run_projector(Settings.from_env(), {schema!r})"
    process = subprocess.Popen([sys.executable, "-c", code], env=env)
    try:
        deadline = time.monotonic() + 30
        while not rows(database_url, "public", f"SELECT 1 FROM pg_tables WHERE schemaname = '{schema}' "
                                                "AND tablename = 'projection_offsets'"):
            assert process.poll() is None and time.monotonic() < deadline, "projector did not start"
            time.sleep(0.05)  # polling for readiness with a deadline, not synchronising on time
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

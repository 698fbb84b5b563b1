"""The pipeline's floor: a job's records through the broker with no work of ours.

Stand-ins for the hot processes pass a job's records along the same topics, keys and guarantees as
the real ones, with the same client settings, and do nothing else: no Avro, no decisions, no
Postgres, no slots. What they reach is the most the shape of the pipeline allows on this machine,
whatever our own code costs; ``bench e2e`` beside it shows how far the real processes are from it.

Per job, as the real processes write them under load (``bench e2e``'s records per job):
- the client submits 1 command;
- the state processor answers it with 2 events, 1 ready record and the job's state on its
  changelog, and the finish report with 3 events and the job's state;
- the dispatcher answers the ready record with a put on its changelog and, once matched, 1
  assignment and a tombstone (a job that waited for a credit: two transactions' worth of records,
  in one here; one matched in the batch it arrived in writes no changelog record at all);
- each worker answers an assignment with 1 finish report, and a consumed batch with 1 credit;
- the projector answers the first event with 1 command result, and counts completed jobs.
The state processor's and the dispatcher's stand-ins commit a transaction per polled batch that
writes (the engine's rule; a batch of credits alone rides with the next), or are at least once.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psutil
from confluent_kafka import Consumer, Message, Producer, TopicPartition

from jobstream.bench import raw_produce_rate
from jobstream.bench_e2e import cpu_seconds, infra_processes, topic_messages
from jobstream.bench_run import bench_run, say
from jobstream.config import Settings
from jobstream.infra.topics import TopicSpec
from jobstream.streams.engine.config import EngineConfig, engine_consumer_config, engine_producer_config
from jobstream.streams.kafka_io import consumer_config, ensure_specs, produce, producer_config

TOPICS = ("commands", "events", "dispatch", "assignments", "results", "state-processor-changelog",
          "dispatcher-changelog")
WORKERS = 2  # each reads a partition of its own of the assignments topic
WARM_UP = 50  # jobs through every stand-in before the clock starts
COMMIT_EVERY_S = 0.1  # at least once: how often a processor stand-in commits its positions
PAYLOAD = os.urandom(300)  # about a command's or an event's size
SUBMIT, FINISH, READY, ASSIGN, CREDIT, FIRST, DONE, OTHER = b"SFRACIDO"
STATE = object()  # a changelog record goes to the input's partition, as the engine writes it


def topic(settings: Settings, name: str) -> str:
    return f"{settings.topic_prefix}.{name}"


@dataclass(frozen=True)
class Out:
    """A record a stand-in writes: its topic and key (or partition), its kind (the value's first
    byte; None: a tombstone) and the job it is about (the next 16 bytes of the value)."""
    topic: str
    key: bytes
    kind: int | None
    job: bytes
    partition: int = -1  # -1: the key's


Step = Callable[[Message], list[Out]]


def _key(message: Message) -> bytes:
    return message.key() or b""


def _value_of(message: Message) -> bytes:
    return message.value() or b""


def state_processor_step(message: Message) -> list[Out]:
    job = _key(message)
    state = Out("state-processor-changelog", job, OTHER, job, message.partition() or 0)
    if _value_of(message)[0] == SUBMIT:
        return [Out("events", job, FIRST, job), Out("events", job, OTHER, job),
                Out("dispatch", b"default", READY, job), state]
    return [Out("events", job, OTHER, job), Out("events", job, OTHER, job), Out("events", job, DONE, job), state]


def dispatcher_step(message: Message) -> list[Out]:
    if _value_of(message)[0] != READY:
        return []  # a credit: the real dispatcher matches it against what is ready
    job, partition = _value_of(message)[1:17], message.partition() or 0
    worker = int(job[-4:]) % WORKERS
    return [Out("dispatcher-changelog", job, OTHER, job, partition),
            Out("assignments", b"w%d" % worker, ASSIGN, job, worker),
            Out("dispatcher-changelog", job, None, job, partition)]


def _value(kind: int, job: bytes) -> bytes:
    return bytes([kind]) + job + PAYLOAD


def _send(producer: Producer, settings: Settings, outs: list[Out]) -> None:
    for out in outs:
        value = None if out.kind is None else _value(out.kind, out.job)
        produce(producer, topic(settings, out.topic), value, out.key, out.partition)


def _batch(consumer: Consumer, config: EngineConfig) -> list[Message]:
    """The engine's poll: wait for the first message, take what is there, gather 5 ms under load."""
    first = consumer.poll(0.1)
    if first is None:
        return []
    polled = [first, *consumer.consume(config.max_batch - 1, 0)]
    if config.gather_from <= len(polled) < config.max_batch:
        polled += consumer.consume(config.max_batch - len(polled), config.gather_s)
    return [m for m in polled if m.error() is None]


def processor_stand_in(settings: Settings, name: str, source: str, step: Step, exactly_once: bool,
                       stop: Any) -> None:
    """The engine's shape: a consumed batch's records and positions in one transaction; or, at
    least once, the records produced by an idempotent producer and the positions committed every
    ``COMMIT_EVERY_S`` (a real processor would commit only what its producer had delivered)."""
    config = EngineConfig(app_id=f"{settings.topic_prefix}.{name}", input_topics=(topic(settings, source),),
                          changelog_topic=topic(settings, f"{name}-changelog"))
    consumer = Consumer(engine_consumer_config(settings, config))
    consumer.subscribe([topic(settings, source)])
    producer = Producer(engine_producer_config(settings, config, config.transactional_id) if exactly_once
                        else producer_config(settings))
    if exactly_once:
        producer.init_transactions()
    positions: dict[tuple[str, int], int] = {}  # consumed since the last commit
    committed_at = 0.0
    while not _told_to_stop(stop):
        messages = _batch(consumer, config)
        positions |= _positions(messages)
        outs = [out for message in messages for out in step(message)]
        if exactly_once and outs:
            producer.begin_transaction()
            _send(producer, settings, outs)
            producer.send_offsets_to_transaction(_offsets(positions), consumer.consumer_group_metadata())
            producer.commit_transaction()
            positions = {}
        elif not exactly_once:
            _send(producer, settings, outs)
            producer.poll(0)
            if positions and time.monotonic() - committed_at >= COMMIT_EVERY_S:
                consumer.commit(offsets=_offsets(positions), asynchronous=True)
                positions, committed_at = {}, time.monotonic()
    consumer.close()


def _positions(messages: list[Message]) -> dict[tuple[str, int], int]:
    """The next offset to read on each partition of ``messages``."""
    return {(m.topic() or "", m.partition() or 0): (m.offset() or 0) + 1 for m in messages}


def _offsets(positions: dict[tuple[str, int], int]) -> list[TopicPartition]:
    return [TopicPartition(t, p, offset) for (t, p), offset in positions.items()]


def _told_to_stop(stop: Any) -> bool:
    """Asked to, or orphaned: a stand-in never outlives its bench."""
    parent = multiprocessing.parent_process()
    return bool(stop.is_set()) or (parent is not None and not parent.is_alive())


def worker_stand_in(settings: Settings, worker: int, stop: Any) -> None:
    """A worker's shape: its assignments in, a finish report per job and a credit per batch out."""
    consumer = Consumer(consumer_config(settings, f"{settings.topic_prefix}.worker-{worker}"))
    producer = Producer(producer_config(settings))
    consumer.assign([TopicPartition(topic(settings, "assignments"), worker)])
    while not _told_to_stop(stop):
        first = consumer.poll(0.1)
        if first is None:
            continue
        for message in [first, *consumer.consume(99, 0)]:
            if message.error() is None:
                job = _value_of(message)[1:17]
                produce(producer, topic(settings, "commands"), _value(FINISH, job), job)
        produce(producer, topic(settings, "dispatch"), _value(CREDIT, b"-" * 16), b"default")
        producer.poll(0)
    consumer.close()


def projector_stand_in(settings: Settings, done: Any, stop: Any) -> None:
    """The projector's shape: every event read, a command result for each submission; ``done``
    counts the jobs completed."""
    consumer = Consumer(consumer_config(settings, f"{settings.topic_prefix}.projector"))
    producer = Producer(producer_config(settings))
    consumer.subscribe([topic(settings, "events")])
    completed: set[bytes] = set()
    while not _told_to_stop(stop):
        first = consumer.poll(0.1)
        if first is None:
            continue
        for message in [first, *consumer.consume(999, 0)]:
            if message.error() is not None:
                continue
            kind = _value_of(message)[0]
            if kind == FIRST:
                produce(producer, topic(settings, "results"), PAYLOAD, _key(message))
            elif kind == DONE:
                completed.add(_key(message))
        producer.poll(0)
        consumer.commit(asynchronous=True)
        done.value = len(completed)
    consumer.close()


def submit(settings: Settings, first: int, count: int, rate: float | None = None) -> None:
    """``count`` submissions, all at once or paced at ``rate`` a second."""
    producer = Producer(producer_config(settings, **{"linger.ms": 5}))
    started = time.perf_counter()
    for n in range(first, first + count):
        if rate:
            _pace(started + (n - first) / rate, producer)
        key = b"job-%012d" % n  # 16 bytes, the stand-ins' job id
        produce(producer, topic(settings, "commands"), _value(SUBMIT, key), key)
        producer.poll(0)
    producer.flush(120)


def _pace(due: float, producer: Producer) -> None:
    while (wait := due - time.perf_counter()) > 0:
        producer.poll(min(wait, 0.05))


def wait_for(done: Any, count: int, children: dict[str, Any], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while done.value < count:
        dead = [name for name, child in children.items() if child.exitcode is not None]
        if dead:
            raise RuntimeError(f"stand-ins ended early: {', '.join(dead)} (their errors are above)")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{done.value} of {count} jobs completed in {timeout_s:.0f} s")
        time.sleep(0.01)  # polling interval of a deadline-bounded wait


def run_floor(base: Settings, jobs: int, rate: float | None = None, exactly_once: bool = True,
              timeout_s: float = 600.0) -> dict[str, Any]:
    """``jobs`` jobs through the stand-ins (submitted at once, or at ``rate`` a second) after a
    warm-up: jobs/s, offsets and CPU per job."""
    if base.partitions < WORKERS:
        raise ValueError(f"the floor needs {WORKERS} partitions or more (one per worker); JOBSTREAM_PARTITIONS "
                         f"is {base.partitions}")
    with bench_run(base, "floor", keep=False) as run:
        settings = run.settings
        ensure_specs(settings, [TopicSpec(topic(settings, name), settings.partitions) for name in TOPICS])
        raw = raw_produce_rate(settings)
        context = multiprocessing.get_context("spawn")
        done = context.Value("l", 0, lock=False)
        with stand_ins(settings, done, exactly_once) as children:
            say(f"warming up: {WARM_UP} jobs")
            submit(settings, 0, WARM_UP)
            wait_for(done, WARM_UP, children, 120)
            processes = {name: psutil.Process(child.pid) for name, child in children.items()}
            processes |= infra_processes(base) | {"bench client": psutil.Process()}
            cpu_before, offsets_before = cpu_seconds(processes), topic_messages(settings)
            started = time.perf_counter()
            submit(settings, WARM_UP, jobs, rate)
            wait_for(done, WARM_UP + jobs, children, timeout_s)
            elapsed = time.perf_counter() - started
            cpu_after, offsets_after = cpu_seconds(processes), topic_messages(settings)
    cpu_ms = {name: round((cpu_after[name] - cpu_before[name]) * 1000 / jobs, 3) for name in processes}
    offsets = {name: round((offsets_after[name] - offsets_before.get(name, 0)) / jobs, 2) for name in offsets_after}
    return {"jobs": jobs, "offered_rate_per_s": rate or "burst",
            "processors": "exactly-once" if exactly_once else "at-least-once",
            "broker_raw_produce_msgs_per_s": raw["msgs_per_s"],
            "end_to_end_jobs_per_s": round(jobs / elapsed),
            "kafka_offsets_per_job": {name: count for name, count in sorted(offsets.items()) if count},
            "cpu_ms_per_job": cpu_ms,
            "cpu_ms_per_job_but_the_client": round(sum(v for k, v in cpu_ms.items() if k != "bench client"), 3)}


@contextmanager
def stand_ins(settings: Settings, done: Any, exactly_once: bool) -> Iterator[dict[str, Any]]:
    """The stand-in processes; asked to stop (their consumers leave their groups) when the block
    ends, killed if they have not within 30 s."""
    context = multiprocessing.get_context("spawn")
    stop = context.Event()
    targets: dict[str, tuple[Callable[..., None], tuple[Any, ...]]] = {
        "state-processor": (processor_stand_in, (settings, "state-processor", "commands", state_processor_step,
                                                 exactly_once, stop)),
        "dispatcher": (processor_stand_in, (settings, "dispatcher", "dispatch", dispatcher_step, exactly_once, stop)),
        "projector": (projector_stand_in, (settings, done, stop)),
        **{f"worker-{n}": (worker_stand_in, (settings, n, stop)) for n in range(WORKERS)},
    }
    children = {name: context.Process(target=target, args=args, daemon=True)
                for name, (target, args) in targets.items()}
    try:
        for child in children.values():
            child.start()
        yield children
    finally:
        stop.set()
        for child in children.values():
            if child.pid is not None:
                child.join(30)
                child.kill()
                child.join()


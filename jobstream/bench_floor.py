"""The pipeline's floor: a job's messages through the broker with no work of ours.

Stand-ins for the hot processes pass a job's records along the same topics, keys and guarantees as
the real ones, with the same client settings, and do nothing else: no Avro, no decisions, no
Postgres. What they reach is the most the shape of the pipeline allows on this machine, whatever
our own code costs; ``bench e2e`` beside it shows how far the real processes are from it.

Per job, as the real processes write (``bench e2e``'s records per job):
- the client submits 1 command;
- the state processor (transactional) answers it with 2 events, 1 ready record and its changelog,
  and the finish report with 3 events and its changelog;
- the dispatcher (transactional) answers the ready record with 1 assignment and its changelog
  (put, then delete);
- each worker (idempotent, at-least-once) answers an assignment with 1 finish report, and a
  consumed batch with 1 credit;
- the projector answers the first event with 1 command result (and counts completed jobs).
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, NoReturn

import psutil
from confluent_kafka import Consumer, Message, Producer, TopicPartition

from jobstream.bench import raw_produce_rate
from jobstream.bench_e2e import cpu_seconds, infra_processes, topic_messages
from jobstream.bench_run import bench_run, say
from jobstream.config import Settings
from jobstream.infra.topics import TopicSpec
from jobstream.streams.engine.config import EngineConfig, engine_consumer_config, engine_producer_config
from jobstream.streams.kafka_io import consumer_config, ensure_specs, partition_for, producer_config

TOPICS = ("commands", "events", "dispatch", "assignments", "results", "state-processor-changelog",
          "dispatcher-changelog")
WORKERS = 2
WARM_UP = 50  # jobs through every stand-in before the clock starts
COMMIT_EVERY_S = 0.1  # at least once: how often a processor stand-in commits its positions
PAYLOAD = os.urandom(300)  # about a command's or an event's size
SUBMIT, FINISH, READY, ASSIGN, CREDIT, FIRST, DONE, OTHER = b"SFRACIDO"


def topic(settings: Settings, name: str) -> str:
    return f"{settings.topic_prefix}.{name}"


@dataclass(frozen=True)
class Out:
    """A record a stand-in writes: its topic and key, its kind (the value's first byte) and the job
    it is about (the next 16 bytes of the value)."""
    topic: str
    key: bytes
    kind: int
    job: bytes


Step = Callable[[Message], list[Out]]


def _key(message: Message) -> bytes:
    return message.key() or b""


def _value_of(message: Message) -> bytes:
    return message.value() or b""


def state_processor_step(message: Message) -> list[Out]:
    job = _key(message)
    if _value_of(message)[0] == SUBMIT:
        return [Out("events", job, FIRST, job), Out("events", job, OTHER, job),
                Out("dispatch", b"default", READY, job), Out("state-processor-changelog", job, OTHER, job)]
    return [Out("events", job, OTHER, job), Out("events", job, OTHER, job), Out("events", job, DONE, job),
            Out("state-processor-changelog", job, OTHER, job)]


def dispatcher_step(message: Message) -> list[Out]:
    if _value_of(message)[0] != READY:
        return []  # a credit: the real dispatcher matches it against what is ready
    job = _value_of(message)[1:17]
    worker = b"w%d" % (int(job[-4:]) % WORKERS)
    return [Out("assignments", worker, ASSIGN, job), Out("dispatcher-changelog", job, OTHER, job),
            Out("dispatcher-changelog", job, OTHER, job)]


def _value(kind: int, job: bytes) -> bytes:
    return bytes([kind]) + job + PAYLOAD


def _send(producer: Producer, settings: Settings, outs: list[Out]) -> None:
    for out in outs:
        producer.produce(topic(settings, out.topic), key=out.key, value=_value(out.kind, out.job))


def _batch(consumer: Consumer, config: EngineConfig) -> list[Message]:
    """The engine's poll: wait for the first message, take what is there, gather 5 ms under load."""
    first = consumer.poll(0.1)
    if first is None:
        return []
    polled = [first, *consumer.consume(config.max_batch - 1, 0)]
    if config.gather_from <= len(polled) < config.max_batch:
        polled += consumer.consume(config.max_batch - len(polled), config.gather_s)
    return [m for m in polled if m.error() is None]


def processor_stand_in(settings: Settings, name: str, source: str, step: Step, exactly_once: bool) -> None:
    """The engine's shape: a consumed batch's records and offsets in one transaction; or, at least
    once, the records produced by an idempotent producer and the positions committed every
    ``COMMIT_EVERY_S`` (a real processor would commit only what its producer had delivered)."""
    config = EngineConfig(app_id=f"{settings.topic_prefix}.{name}", input_topics=(topic(settings, source),),
                          changelog_topic=topic(settings, f"{name}-changelog"))
    consumer = Consumer(engine_consumer_config(settings, config))
    consumer.subscribe([topic(settings, source)])
    if not exactly_once:
        _at_least_once(settings, consumer, config, step)
    producer = Producer(engine_producer_config(settings, config, config.transactional_id))
    producer.init_transactions()
    while True:
        messages = _batch(consumer, config)
        if not messages:
            continue
        producer.begin_transaction()
        for message in messages:
            _send(producer, settings, step(message))
        producer.send_offsets_to_transaction(_positions(messages), consumer.consumer_group_metadata())
        producer.commit_transaction()


def _at_least_once(settings: Settings, consumer: Consumer, config: EngineConfig, step: Step) -> NoReturn:
    producer = Producer(producer_config(settings))
    committed_at = 0.0
    while True:
        for message in _batch(consumer, config):
            _send(producer, settings, step(message))
        producer.poll(0)
        if time.monotonic() - committed_at >= COMMIT_EVERY_S:
            consumer.commit(asynchronous=True)
            committed_at = time.monotonic()


def _positions(messages: list[Message]) -> list[TopicPartition]:
    last: dict[tuple[str, int], int] = {}
    for message in messages:
        last[(message.topic() or "", message.partition() or 0)] = message.offset() or 0
    return [TopicPartition(t, p, offset + 1) for (t, p), offset in last.items()]


def worker_stand_in(settings: Settings, worker: int) -> None:
    """A worker's shape: its assignments in, a finish report per job and a credit per batch out."""
    consumer = Consumer(consumer_config(settings, f"{settings.topic_prefix}.worker-{worker}"))
    producer = Producer(producer_config(settings))
    consumer.assign([TopicPartition(topic(settings, "assignments"), partition_for(f"w{worker}", settings.partitions))])
    while True:
        first = consumer.poll(0.1)
        if first is None:
            continue
        for message in [first, *consumer.consume(99, 0)]:
            if message.error() is None:
                job = _value_of(message)[1:17]
                producer.produce(topic(settings, "commands"), key=job, value=_value(FINISH, job))
        producer.produce(topic(settings, "dispatch"), key=b"default", value=_value(CREDIT, b"-" * 16))
        producer.poll(0)


def projector_stand_in(settings: Settings, done: Any) -> None:
    """The projector's shape: every event read, a command result for each submission."""
    consumer = Consumer(consumer_config(settings, f"{settings.topic_prefix}.projector"))
    producer = Producer(producer_config(settings))
    consumer.subscribe([topic(settings, "events")])
    completed = 0
    while True:
        first = consumer.poll(0.1)
        if first is None:
            continue
        for message in [first, *consumer.consume(999, 0)]:
            if message.error() is not None:
                continue
            kind = _value_of(message)[0]
            if kind == FIRST:
                producer.produce(topic(settings, "results"), key=message.key(), value=PAYLOAD)
            elif kind == DONE:
                completed += 1
        producer.poll(0)
        consumer.commit(asynchronous=True)
        done.value = completed


def submit(settings: Settings, first: int, count: int, rate: float | None = None) -> None:
    """``count`` submissions, all at once or paced at ``rate`` a second."""
    producer = Producer(producer_config(settings, **{"linger.ms": 5}))
    started = time.perf_counter()
    for n in range(first, first + count):
        if rate:
            _pace(started + (n - first) / rate, producer)
        key = b"job-%012d" % n  # 16 bytes, the stand-ins' job id
        while True:
            try:
                producer.produce(topic(settings, "commands"), key=key, value=_value(SUBMIT, key))
                break
            except BufferError:
                producer.poll(0.01)
        producer.poll(0)
    producer.flush(120)


def _pace(due: float, producer: Producer) -> None:
    while (wait := due - time.perf_counter()) > 0:
        producer.poll(min(wait, 0.05))


def wait_for(done: Any, count: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while done.value < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{done.value} of {count} jobs completed in {timeout_s:.0f} s")
        time.sleep(0.01)


def run_floor(base: Settings, jobs: int, rate: float | None = None, exactly_once: bool = True,
              timeout_s: float = 600.0) -> dict[str, Any]:
    """``jobs`` jobs through the stand-ins (submitted at once, or at ``rate`` a second) after a
    warm-up: jobs/s, offsets and CPU per job. The state processor's and the dispatcher's stand-ins
    commit a transaction per batch, as the engine does, or are at least once."""
    with bench_run(base, "floor", keep=False) as run:
        settings = run.settings
        ensure_specs(settings, [TopicSpec(topic(settings, name), settings.partitions) for name in TOPICS])
        raw = raw_produce_rate(settings)
        done = multiprocessing.get_context("spawn").Value("l", 0, lock=False)
        with stand_ins(settings, done, exactly_once) as processes:
            say(f"warming up: {WARM_UP} jobs")
            submit(settings, 0, WARM_UP)
            wait_for(done, WARM_UP, 120)
            processes |= infra_processes(base) | {"bench client": psutil.Process()}
            cpu_before, offsets_before = cpu_seconds(processes), topic_messages(settings)
            started = time.perf_counter()
            submit(settings, WARM_UP, jobs, rate)
            wait_for(done, WARM_UP + jobs, timeout_s)
            elapsed = time.perf_counter() - started
            cpu_after, offsets_after = cpu_seconds(processes), topic_messages(settings)
    cpu_ms = {name: round((cpu_after[name] - cpu_before[name]) * 1000 / jobs, 3) for name in processes}
    offsets = {name: round((offsets_after[name] - offsets_before.get(name, 0)) / jobs, 2) for name in offsets_after}
    return {"jobs": jobs, "offered_rate_per_s": rate or "burst",
            "processors": "exactly-once" if exactly_once else "at-least-once",
            "broker_raw_produce_msgs_per_s": raw["msgs_per_s"],
            "end_to_end_jobs_per_s": round(jobs / elapsed),
            "kafka_offsets_per_job": {name: count for name, count in sorted(offsets.items()) if count},
            "cpu_ms_per_job": cpu_ms, "cpu_ms_per_job_total": round(sum(cpu_ms.values()), 3)}


@contextmanager
def stand_ins(settings: Settings, done: Any, exactly_once: bool) -> Iterator[dict[str, psutil.Process]]:
    """The stand-in processes, killed when the block ends."""
    context = multiprocessing.get_context("spawn")
    targets: dict[str, tuple[Callable[..., None], tuple[Any, ...]]] = {
        "state-processor": (processor_stand_in, (settings, "state-processor", "commands", state_processor_step,
                                                 exactly_once)),
        "dispatcher": (processor_stand_in, (settings, "dispatcher", "dispatch", dispatcher_step, exactly_once)),
        "projector": (projector_stand_in, (settings, done)),
        **{f"worker-{n}": (worker_stand_in, (settings, n)) for n in range(WORKERS)},
    }
    children = {name: context.Process(target=target, args=args, daemon=True)
                for name, (target, args) in targets.items()}
    for child in children.values():
        child.start()
    try:
        yield {name: psutil.Process(child.pid) for name, child in children.items()}
    finally:
        for child in children.values():
            child.kill()
            child.join()

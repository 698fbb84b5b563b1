"""`jobstream bench state-processor`: commands/s of ONE state-processor process.

N SubmitJob commands (varied, realistic specs, keyed and partitioned by job_id) are written to a
fresh prefix's commands topic first, beside the broker's raw produce rate measured in the same
run. Then one state processor starts on them, and the run is timed until the processor's group
has committed the end of every commands partition: every decision is then committed (offsets
commit in the transaction of their events). The rate counts
from the first committed offset, so start-up is reported apart.
"""

from __future__ import annotations

import os
import random
import time
from dataclasses import dataclass
from typing import Any

import psutil
from confluent_kafka import Consumer, TopicPartition

from jobstream.bench import raw_produce_rate
from jobstream.bench_run import BenchRun, bench_run, reader_group, say
from jobstream.clock import new_job_id
from jobstream.config import Settings
from jobstream.infra.topics import Topics
from jobstream.schemas import JobSpec, Requirements, RetryPolicy, ShellTask, SubmitJob
from jobstream.streams.kafka_io import Publisher, command_envelope, consumer_config, end_offset

QUEUES = ("default", "etl", "reports", "gpu")
POLL_S = 0.05  # how often the committed offsets are read while timing


def realistic_spec(n: int, rng: random.Random) -> JobSpec:
    """A spec of the size and variety services submit: argv, env, labels, retries, requirements."""
    queue = QUEUES[n % len(QUEUES)]
    task = ShellTask(argv=["python", "-m", f"pipelines.{queue}.step", "--partition", str(n % 97),
                           "--date", f"2026-11-{1 + n % 28:02d}"],
                     env={"PIPELINE_RUN": f"run-{n // 100}", "LOG_LEVEL": "info"}, cwd="/srv/pipelines")
    return JobSpec(name=f"{queue}-step-{n}", queue=queue, priority=rng.randint(1, 10), task=task,
                   timeout_s=float(rng.choice((60, 300, 3600))),
                   labels={"team": rng.choice(("data", "ml", "billing")), "env": "prod"},
                   retry=RetryPolicy(max_attempts=3, initial_backoff_s=2.0) if n % 3 else None,
                   requirements=Requirements(cpu=1.0, memory_mb=512) if n % 5 == 0 else None)


def submit(settings: Settings, count: int) -> float:
    """Write ``count`` SubmitJob commands; returns the rate the client achieved (commands/s)."""
    rng = random.Random(7)
    commands = [SubmitJob(envelope=command_envelope(SubmitJob, new_job_id(), "bench"), spec=realistic_spec(n, rng))
                for n in range(count)]
    publisher = Publisher(settings, **{"linger.ms": 5})
    started = time.perf_counter()
    for command in commands:
        publisher.send_command(command)
        publisher.poll(0)
    publisher.flush(120)
    return count / (time.perf_counter() - started)


@dataclass
class Timing:
    started: float  # monotonic, process start
    first_at: float = 0.0  # monotonic, first committed offset seen
    first_done: int = 0
    first_cpu_s: float = 0.0
    done_at: float = 0.0
    done_cpu_s: float = 0.0


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a running process (all its threads)."""
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


class CommittedWatch:
    """The state processor group's committed offsets on the commands topic."""

    def __init__(self, settings: Settings) -> None:
        topics = Topics(settings.topic_prefix)
        self.consumer = Consumer(consumer_config(settings, topics.state_processor_app))
        self.partitions = [TopicPartition(topics.commands, p) for p in range(settings.partitions)]
        self.ends = {tp.partition: end_offset(self.consumer, tp) for tp in self.partitions}

    def committed(self) -> int:
        return sum(max(tp.offset, 0) for tp in self.consumer.committed(self.partitions, timeout=10))

    @property
    def total(self) -> int:
        return sum(self.ends.values())

    def close(self) -> None:
        self.consumer.close()


def time_processing(run: BenchRun, watch: CommittedWatch, timeout_s: float) -> Timing:
    process = run.spawn("state-processor")
    timing = Timing(started=time.monotonic())
    deadline = timing.started + timeout_s
    while True:
        done = watch.committed()
        now = time.monotonic()
        if done and not timing.first_at:
            timing.first_at, timing.first_done, timing.first_cpu_s = now, done, cpu_seconds(process.pid)
        if done >= watch.total:
            timing.done_at, timing.done_cpu_s = now, cpu_seconds(process.pid)
            return timing
        if process.poll() is not None:
            raise RuntimeError(f"the state processor exited with {process.returncode}; see {run.log_dir}")
        if now > deadline:
            raise TimeoutError(f"{done} of {watch.total} commands committed after {timeout_s}s")
        time.sleep(POLL_S)  # the polling interval of a deadline-bounded wait


def count_events(settings: Settings) -> int:
    """Committed records on the events topic (read_committed: aborted ones are not counted)."""
    topic = Topics(settings.topic_prefix).events
    consumer = Consumer(consumer_config(settings, reader_group(settings, "events-count"),
                                        **{"enable.partition.eof": True}))
    try:
        ends = {p: end_offset(consumer, TopicPartition(topic, p)) for p in range(settings.partitions)}
        consumer.assign([TopicPartition(topic, p, 0) for p, end in ends.items() if end > 0])
        open_ = {p for p, end in ends.items() if end > 0}
        count = 0
        while open_:
            for message in consumer.consume(10_000, 1.0):
                if message.error() is None:
                    count += 1
                elif message.partition() in open_:
                    open_.discard(message.partition())  # type: ignore[arg-type]
        return count
    finally:
        consumer.close()


def run_state_bench(base: Settings, commands: int, timeout_s: float, keep: bool = False) -> dict[str, Any]:
    with bench_run(base, "state", keep) as run:
        raw = raw_produce_rate(run.settings)
        say(f"writing {commands} SubmitJob commands")
        submit_rate = submit(run.settings, commands)
        watch = CommittedWatch(run.settings)
        say("timing one state processor")
        try:
            timing = time_processing(run, watch, timeout_s)
        finally:
            watch.close()
        events = count_events(run.settings)
    steady_s = timing.done_at - timing.first_at
    steady_commands = commands - timing.first_done
    cpu_s = timing.done_cpu_s - timing.first_cpu_s
    return {
        "commands": commands,
        "events": events,
        "broker_raw_produce_msgs_per_s": raw["msgs_per_s"],
        "submit_rate_per_s": round(submit_rate),
        "commands_per_s": round(steady_commands / steady_s) if steady_s > 0 else None,
        "events_per_s": round(events * steady_commands / commands / steady_s) if steady_s > 0 else None,
        "seconds": round(steady_s, 2),
        "start_to_first_commit_s": round(timing.first_at - timing.started, 2),
        "cpu_s": round(cpu_s, 2),
        "cpu_us_per_command": round(cpu_s / steady_commands * 1e6, 1) if steady_commands else None,
        "load_average_1m": round(os.getloadavg()[0], 2),
    }


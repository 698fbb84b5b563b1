"""`jobstream bench e2e`: the whole stack as `jobstream run` starts it, one job kind after another.

Per kind (inline Python no-op, process Python no-op, shell ``true``): jobs/s end to end, latency
percentiles, Kafka messages per job (every topic of the run's prefix), Kafka transactions per job
of each engine process (a transaction costs the broker about fifteen produce requests), and CPU
seconds per job of each process (psutil), so the next bottleneck is visible. Messages and
transactions per job are counts: unlike times, they do not move with a noisy machine's speed.
The broker's raw produce rate, measured in the same run, is the baseline.
"""

from __future__ import annotations

import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psutil
import psycopg
from confluent_kafka import Consumer, TopicPartition
from prometheus_client.parser import text_string_to_metric_families

from jobstream.bench import E2EResult, await_completion, raw_produce_rate, submit_jobs, summarise, warm_up
from jobstream.bench_run import BenchRun, bench_run, reader_group
from jobstream.config import Settings
from jobstream.infra.process import free_port
from jobstream.infra.stack import Infra
from jobstream.projections.schema import drop_schema
from jobstream.schemas import PythonTask, ShellTask, Task
from jobstream.streams.kafka_io import Publisher, consumer_config, end_offset

# The cheapest task of each kind: a builtin needs nothing on the worker's path.
KINDS: dict[str, Task] = {
    "inline": PythonTask(entrypoint="builtins:len", args_json="[[]]", isolation="inline"),
    "python": PythonTask(entrypoint="builtins:len", args_json="[[]]"),
    "shell": ShellTask(argv=["true"]),
}
ALLOWED = ["--allow-module", "builtins"]  # the Python kinds' module, which a worker refuses unless named
ENGINES = ("state-processor", "dispatcher", "worker-monitor")  # processes on the transactional engine


def run_full_e2e(base: Settings, jobs: int, kinds: list[str], workers: int, slots: int, timeout_s: float,
                 rate: float | None = None, keep: bool = False) -> dict[str, Any]:
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        raise ValueError(f"unknown job kinds {unknown}: choose from {sorted(KINDS)}")
    with full_stack(base, workers, slots, keep) as (run, processes, metrics_ports):
        raw = raw_produce_rate(run.settings)
        publisher = Publisher(run.settings)
        warm_up(run.settings, publisher, alive=run.check_alive)
        results = {kind: _one_kind(run, publisher, processes, metrics_ports, KINDS[kind], jobs, timeout_s, rate, raw)
                   for kind in kinds}
        return {"offered_rate_per_s": rate or "burst", "workers": workers, "slots": slots,
                "broker_raw_produce_msgs_per_s": raw["msgs_per_s"], "kinds": results}


def _one_kind(run: BenchRun, publisher: Publisher, processes: dict[str, psutil.Process],
              metrics_ports: dict[str, int], task: Task, jobs: int, timeout_s: float, rate: float | None,
              raw: dict[str, float]) -> dict[str, Any]:
    settings = run.settings
    transactions_before = transactions(metrics_ports)
    cpu_before, messages_before = cpu_seconds(processes), topic_messages(settings)
    result = E2EResult()
    submit_jobs(publisher, jobs, "default", result, rate, task=task)
    await_completion(settings, result, timeout_s, alive=run.check_alive)
    cpu_after, messages_after = cpu_seconds(processes), topic_messages(settings)
    transactions_after = transactions(metrics_ports)
    summary = summarise(result, raw["msgs_per_s"])
    summary.pop("broker_raw_produce_msgs_per_s")
    per_topic = {topic: round((messages_after[topic] - messages_before.get(topic, 0)) / jobs, 2)
                 for topic in sorted(messages_after)}
    summary["kafka_messages_per_job"] = {"all": round(sum(per_topic.values()), 2),
                                         **{topic: n for topic, n in per_topic.items() if n}}
    summary["transactions_per_job"] = {name: round((transactions_after[name] - transactions_before[name]) / jobs, 3)
                                       for name in metrics_ports}
    summary["cpu_ms_per_job"] = {name: round((cpu_after[name] - cpu_before[name]) * 1000 / jobs, 3)
                                 for name in processes}
    return summary


@contextmanager
def full_stack(base: Settings, workers: int, slots: int,
               keep: bool) -> Iterator[tuple[BenchRun, dict[str, psutil.Process], dict[str, int]]]:
    """Every process of `jobstream run` but the API, on a fresh prefix and read-model schema; the
    engine processes serve their metrics on the ports returned."""
    with bench_run(base, "e2e", keep) as run:
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        children = {"state-processor": ["state-processor"], "dispatcher": ["dispatcher"],
                    "timer-processor": ["timer-processor"], "worker-monitor": ["worker-monitor"],
                    "projector": ["projector", "--schema", schema],
                    "logs-projector": ["logs-projector", "--schema", schema]}
        children |= {f"worker-{n}": ["worker", "--slots", str(slots), *ALLOWED] for n in range(1, workers + 1)}
        metrics_ports = {name: free_port() for name in ENGINES}
        for name, port in metrics_ports.items():
            children[name] += ["--metrics-port", str(port)]
        processes = {name: psutil.Process(run.spawn(*args, name=name).pid) for name, args in children.items()}
        processes |= infra_processes(base) | {"bench client": psutil.Process()}
        try:
            yield run, processes, metrics_ports
        finally:
            run.stop()
            if not keep:
                with psycopg.connect(run.settings.database_url, autocommit=True) as conn:
                    drop_schema(conn, schema)


def transactions(metrics_ports: dict[str, int]) -> dict[str, float]:
    """Transactions each engine process committed so far (its ``jobstream_engine_transactions_total``)."""
    counts = {}
    for name, port in metrics_ports.items():
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
            text = response.read().decode()
        counts[name] = sum(sample.value for family in text_string_to_metric_families(text)
                           if family.name == "jobstream_engine_transactions" for sample in family.samples
                           if sample.name == "jobstream_engine_transactions_total")
    return counts


def cpu_seconds(processes: dict[str, psutil.Process]) -> dict[str, float]:
    """User plus system CPU time of each process so far; Postgres's with its backends (one per
    connection), since they share the machine with everything else."""
    seconds = {}
    for name, process in processes.items():
        try:
            family = [process, *process.children(recursive=True)] if name == "postgres" else [process]
            seconds[name] = sum(p.cpu_times().user + p.cpu_times().system for p in family)
        except psutil.NoSuchProcess:
            seconds[name] = float("nan")  # it died: the figure would mislead
    return seconds


def infra_processes(settings: Settings) -> dict[str, psutil.Process]:
    """The local broker and Postgres of ``jobstream infra up``, when they run on this machine."""
    infra = Infra(settings)
    pids = {"broker": None if settings.external_kafka else infra.kafka.running_pid(),
            "postgres": None if settings.external_database_url else infra.postgres.running_pid()}
    return {name: psutil.Process(pid) for name, pid in pids.items() if pid is not None}


def topic_messages(settings: Settings) -> dict[str, int]:
    """Messages on each topic of the run's prefix (but the raw-rate probe's), by topic name without
    the prefix: the sum of its partitions' end offsets."""
    consumer = Consumer(consumer_config(settings, reader_group(settings, "offsets")))
    prefix = f"{settings.topic_prefix}."
    try:
        topics = consumer.list_topics(timeout=30).topics
        return {name.removeprefix(prefix):
                sum(end_offset(consumer, TopicPartition(name, p)) for p in metadata.partitions)
                for name, metadata in topics.items() if name.startswith(prefix) and not name.endswith(".bench-raw")}
    finally:
        consumer.close()

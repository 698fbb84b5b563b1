"""The metrics the dashboard and the alert rules read are served by the real processes, with values:
one job sent with the SDK's KafkaClient runs, and each process's /metrics shows its part."""

from __future__ import annotations

from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from jobstream.config import Settings
from jobstream.infra.process import free_port
from jobstream.infra.topics import Topics
from jobstream.sdk.kafka import KafkaClient
from jobstream.sdk.tasks import shell
from tests.integration.harness import ServiceProcess, poll

PROCESSES = {"state-processor": ["state-processor"], "dispatcher": ["dispatcher"], "monitor": ["worker-monitor"],
             "worker": ["worker", "--slots", "3"]}


def samples(port: int) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    except httpx.HTTPError:
        return {}
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def families(port: int) -> set[str]:
    return {family.name for family in text_string_to_metric_families(httpx.get(f"http://127.0.0.1:{port}/metrics",
                                                                               timeout=5).text)}


def value(port: int, name: str, **labels: str) -> float | None:
    return samples(port).get((name, frozenset(labels.items())))


def test_each_process_serves_the_metrics_the_dashboard_reads(test_settings: Settings, topics_ready: Topics,
                                                             services: dict[str, ServiceProcess],
                                                             tmp_path: Path) -> None:
    ports = {name: free_port() for name in PROCESSES}
    for name, args in PROCESSES.items():
        services[name] = ServiceProcess(name, [*args, "--metrics-port", str(ports[name])], test_settings,
                                        tmp_path).start()
    with KafkaClient.from_settings(test_settings) as kafka:
        kafka.submit(shell("true"), name="metrics")
    sp, group = ports["state-processor"], f"{test_settings.topic_prefix}.state-processor"

    finished = {"result": "completed", "namespace": "default"}  # each team's figures apart
    poll(lambda: (value(sp, "jobstream_jobs_finished_total", **finished) or 0) >= 1, 120, "the job to finish")
    assert (value(sp, "jobstream_job_scheduling_latency_seconds_count") or 0) >= 1
    assert (value(sp, "jobstream_job_run_duration_seconds_count") or 0) >= 1
    assert (value(sp, "jobstream_job_turnaround_seconds_count") or 0) >= 1
    poll(lambda: value(sp, "jobstream_consumer_lag_messages", group=group) == 0, 60, "the state processor's lag")
    # a queue's depth shows once the dispatcher saw it non-empty at a punctuation: maybe not for one quick job
    assert {"jobstream_queue_ready_executions", "jobstream_queue_oldest_ready_age_seconds"} <= families(
        ports["dispatcher"])
    # the gauge is set at a punctuation (every second): one that saw the job ready says 1 until the next
    poll(lambda: value(ports["dispatcher"], "jobstream_queue_ready_executions", queue="default") in (None, 0), 30,
         "the dispatcher's ready gauge of the default queue back to 0")
    assert value(ports["worker"], "jobstream_worker_slots") == 3
    assert value(ports["worker"], "jobstream_worker_slots_used") == 0
    poll(lambda: value(ports["worker"], "jobstream_worker_executions_total", outcome="succeeded", namespace="default")
         == 1, 30, "the worker's count of its execution, in the job's namespace")
    poll(lambda: value(ports["monitor"], "jobstream_workers", status="active") == 1, 60, "the monitor's count")
    assert value(ports["monitor"], "jobstream_workers", status="lost") == 0

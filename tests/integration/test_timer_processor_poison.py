"""A timer request that cannot be decoded is set aside with its origin, like every consumer's poison."""

from __future__ import annotations

from pathlib import Path

import httpx
from confluent_kafka import Producer

from jobstream.config import Settings
from jobstream.infra.process import free_port
from jobstream.infra.topics import Topics
from jobstream.streams.kafka_io import end_offsets, produce, producer_config
from tests.integration.harness import ServiceProcess, poison_message, poll


def test_garbage_timer_request_goes_to_the_poison_topic(
        test_settings: Settings, topics_ready: Topics, services: dict[str, ServiceProcess], tmp_path: Path) -> None:
    # Given a garbage message on the timer-requests topic
    offset = end_offsets(test_settings, topics_ready.timer_requests)[1]
    raw = Producer(producer_config(test_settings))
    produce(raw, topics_ready.timer_requests, b"\x00not a timer change", b"job-x", 1)
    assert raw.flush(10) == 0

    # When the timer processor reads it
    metrics_port = free_port()
    args = ["timer-processor", "--metrics-port", str(metrics_port)]
    services["timers"] = ServiceProcess("timer-processor", args, test_settings, tmp_path).start()

    # Then it is on the poison topic, naming where it came from and why
    value, headers = poison_message(test_settings, topics_ready.poison, 120)
    assert value == b"\x00not a timer change"
    assert (headers["origin.topic"], headers["origin.partition"], headers["origin.offset"]) == (
        topics_ready.timer_requests, "1", str(offset))
    assert headers["reason"]

    # And the processor counts it
    poll(lambda: 'jobstream_poison_total{process="timer-processor"} 1.0' in _scrape(metrics_port), 60,
         "the poison count in /metrics")


def _scrape(port: int) -> str:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    except httpx.HTTPError:  # not serving yet
        return ""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from jobstream.config import Settings
from jobstream.infra.topics import Topics, ensure_topics
from jobstream.infra.process import free_port, wait_until
from tests.integration.harness import ServiceProcess, api_ready


@pytest.fixture
def topics_ready(test_settings: Settings) -> Topics:
    topics = Topics(test_settings.topic_prefix)
    ensure_topics(test_settings.kafka_bootstrap, topics.specs(test_settings.partitions))
    return topics


@pytest.fixture
def services(test_settings: Settings, topics_ready: Topics, tmp_path: Path,
             request: pytest.FixtureRequest) -> Iterator[dict[str, ServiceProcess]]:
    """Start named jobstream processes with ``services[name] = ...start()``; all stop at the end,
    and their logs are printed when the test failed."""
    started: dict[str, ServiceProcess] = {}
    yield started
    for process in started.values():
        process.stop()
    if getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed:
        for name, process in started.items():
            print(f"----- {name} log -----\n{process.log_tail(80)}")


@pytest.fixture
def stack(test_settings: Settings, topics_ready: Topics, services: dict[str, ServiceProcess], tmp_path: Path,
          unique_name: str) -> Iterator[httpx.Client]:
    """Every jobstream process (one worker with 8 slots) on the test's topics and schema, and an
    HTTP client of its API once it is ready."""
    port = free_port()
    settings = test_settings.with_(api_url=f"http://127.0.0.1:{port}")
    commands = {
        "state-processor": ["state-processor"],
        "dispatcher": ["dispatcher"],
        "timers": ["timer-processor"],
        "projector": ["projector", "--schema", unique_name],
        "logs-projector": ["logs-projector", "--schema", unique_name],
        "api": ["api", "--port", str(port), "--schema", unique_name],
        "worker": ["worker", "--slots", "8"],
    }
    for name, args in commands.items():
        services[name] = ServiceProcess(name, args, settings, tmp_path).start()
    with httpx.Client(base_url=settings.api_url, timeout=30) as client:
        wait_until(lambda: api_ready(client), 60, "the API to be ready")
        yield client


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report

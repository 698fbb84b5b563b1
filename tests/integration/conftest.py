from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from jobstream.config import Settings
from jobstream.infra.process import free_port
from jobstream.infra.topics import Topics, ensure_topics
from tests.integration.browser import chromium, page  # noqa: F401 - fixtures of the dashboard's browser tests
from tests.integration.harness import ServiceProcess, api_stack


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
    settings = test_settings.with_(api_url=f"http://127.0.0.1:{free_port()}")
    names = ["state-processor", "dispatcher", "timers", "projector", "logs-projector", "api", "worker"]
    with api_stack(settings, services, tmp_path, unique_name, names) as client:
        yield client


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report

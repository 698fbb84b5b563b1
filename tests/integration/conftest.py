from __future__ import annotations

from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import httpx
import psycopg
import pytest
from psycopg import sql

from jobstream.config import Settings
from jobstream.infra.kafka_cluster import LocalKafkaCluster
from jobstream.infra.postgres import LocalPostgres
from jobstream.infra.process import free_port
from jobstream.infra.topics import Topics, ensure_topics
from tests.integration.browser import chromium, page  # noqa: F401 - fixtures of the dashboard's browser tests
from tests.integration.harness import ServiceProcess, api_stack, poll
from tests.integration.web_server import web  # noqa: F401 - the fixture of HTTP tasks' server


@pytest.fixture(scope="session")
def kafka_cluster(infra_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalKafkaCluster]:
    """A 3-node Kafka cluster on free loopback ports, started once per session by the first test
    that asks for it (three JVMs: only the fault tests need them)."""
    home = tmp_path_factory.mktemp("kafka-cluster")
    cluster = LocalKafkaCluster(home, infra_settings.cache_dir, infra_settings.kafka_version,
                                tuple((free_port(), free_port()) for _ in range(3)), "384m")
    try:
        cluster.up()
        yield cluster
    finally:
        cluster.down()


@pytest.fixture
def cluster_settings(kafka_cluster: LocalKafkaCluster, test_settings: Settings) -> Settings:
    """The test's settings on the 3-node cluster: its topics get 3 replicas, 2 in sync."""
    return test_settings.with_(external_kafka=kafka_cluster.bootstrap, kafka_brokers=3)


@pytest.fixture(scope="session")
def local_postgres(infra_settings: Settings) -> LocalPostgres | None:
    """The session's private Postgres (to stop and start it), or None when it is external."""
    if Settings.from_env().external_database_url:
        return None
    port = int(infra_settings.database_url.rsplit(":", 1)[1].split("/")[0])
    return LocalPostgres(infra_settings.state_dir / "postgres", port, fast_and_unsafe=True)


@pytest.fixture
def topics_ready(test_settings: Settings) -> Topics:
    topics = Topics(test_settings.topic_prefix)
    ensure_topics(test_settings.kafka_bootstrap, topics.specs(test_settings.partitions))
    return topics


@pytest.fixture
def schema(database_url: str, unique_name: str) -> Iterator[str]:
    """An empty read model (the projector's tables) in a schema of the test's own, dropped after it."""
    ddl = resources.files("jobstream.projections").joinpath("sql/schema.sql").read_text()
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(unique_name)))
        conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(unique_name)))
        conn.execute(ddl)  # type: ignore[arg-type]
    yield unique_name
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(unique_name)))


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
    HTTP client of its API once it is ready and its worker is seen active: a job submitted then
    waits for nothing but its own dispatch, even on a machine too busy to start 7 processes fast."""
    settings = test_settings.with_(api_url=f"http://127.0.0.1:{free_port()}")
    names = ["state-processor", "dispatcher", "timers", "projector", "logs-projector", "api", "worker"]
    with api_stack(settings, services, tmp_path, unique_name, names) as client:
        poll(lambda: active_workers(client), 90, "the worker to be seen active")
        yield client


def active_workers(client: httpx.Client) -> list[dict[str, object]]:
    """The active workers the read model knows; none while it cannot answer yet (a 503)."""
    answer = client.get("/v1/workers", params={"status": "active"})
    return answer.json()["items"] if answer.status_code == 200 else []


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report

"""Session fixtures: one real Kafka broker and one real Postgres for the whole test run.

Where they come from is JOBSTREAM_TEST_INFRA's choice (jobstream/infra/test_backends.py): by
default (local) a private broker and cluster start on free loopback ports in a temporary
directory, unless JOBSTREAM_KAFKA_BOOTSTRAP / JOBSTREAM_DATABASE_URL name existing ones;
"external" uses only those; "testcontainers" starts both in Docker. What the session started is
stopped when it ends. Tests isolate themselves by unique topic prefixes.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from jobstream.config import Settings
from jobstream.infra.connect import LocalConnect
from jobstream.infra.kafka import LocalKafka
from jobstream.infra.postgres import LocalPostgres
from jobstream.infra.process import free_port
from jobstream.infra.registry import LocalRegistry
from jobstream.infra.stack import Infra
from jobstream.infra.test_backends import InfraChoiceError, Source, choose, docker_reachable, start_containers
from tests.credentials import with_credentials


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/integration" in str(item.path):
            item.add_marker(pytest.mark.integration)


# The modules the tests' Python jobs call into, which a worker runs only when allowed (worker/allowlist.py).
TEST_JOB_MODULES = ("builtins", "tests.integration.jobs_for_tests")


def _for_tests(settings: Settings) -> Settings:
    """The session's settings: its own credentials file, and workers that run the tests' Python jobs."""
    return with_credentials(settings.with_(worker_allow_modules=TEST_JOB_MODULES),
                            str(settings.state_dir / "credentials"))


def _scratch_dir() -> Path:
    # World-traversable, because Postgres runs as its own user when the tests run as root.
    path = Path(tempfile.mkdtemp(prefix="jobstream-test-"))
    path.chmod(0o755)
    return path


@pytest.fixture(scope="session")
def infra_settings() -> Iterator[Settings]:
    """Settings pointing at a running broker and database, shared by every integration test."""
    try:
        plan = choose(os.environ, docker_reachable)
    except InfraChoiceError as error:
        pytest.exit(str(error), returncode=pytest.ExitCode.USAGE_ERROR)
    if plan.kafka == Source.CONTAINER:
        yield from _in_containers()
        return
    base = Settings.from_env()
    scratch = _scratch_dir()
    kafka = None if base.external_kafka else LocalKafka(
        scratch / "kafka", base.cache_dir, base.kafka_version, free_port(), free_port(), base.kafka_heap)
    postgres = None if base.external_database_url else LocalPostgres(
        scratch / "postgres", free_port(), fast_and_unsafe=True)
    services = [s for s in (kafka, postgres) if s is not None]
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(lambda service: service.up(), services))
        yield _for_tests(base.with_(
            state_dir=scratch,
            external_kafka=kafka.bootstrap if kafka else base.external_kafka,
            external_database_url=postgres.dsn if postgres else base.external_database_url,
        ))
    finally:
        for service in services:
            try:
                service.down()
            except Exception as error:  # noqa: BLE001 - report, keep stopping the others
                print(f"stopping {service} failed: {error}")
        shutil.rmtree(scratch, ignore_errors=True)


def _in_containers() -> Iterator[Settings]:
    containers = start_containers()
    scratch = _scratch_dir()
    try:
        yield _for_tests(Settings.from_env().with_(state_dir=scratch, external_kafka=containers.bootstrap,
                                                   external_database_url=containers.dsn))
    finally:
        containers.stop()
        shutil.rmtree(scratch, ignore_errors=True)


@pytest.fixture(scope="session")
def kafka_bootstrap(infra_settings: Settings) -> str:
    return infra_settings.kafka_bootstrap


@pytest.fixture(scope="session")
def database_url(infra_settings: Settings) -> str:
    return infra_settings.database_url


@pytest.fixture(scope="session")
def schema_registry_url() -> Iterator[str]:
    """A real schema registry (Apicurio, in memory), started once and only for the tests that ask
    for it (a JVM of its own); JOBSTREAM_SCHEMA_REGISTRY_URL names an existing one instead."""
    external = Settings.from_env().schema_registry_url
    if external:
        yield external
        return
    base, scratch = Settings.from_env(), _scratch_dir()
    registry = LocalRegistry(scratch / "registry", base.cache_dir, free_port())
    try:
        registry.up()
        yield registry.url
    finally:
        registry.down()
        shutil.rmtree(scratch, ignore_errors=True)


@pytest.fixture(scope="session")
def kafka_connect(infra_settings: Settings) -> Iterator[LocalConnect]:
    """A real Kafka Connect worker (distributed, the JDBC sink and Avro converter plugins) on the
    session's broker, started once and only for the tests that ask for it."""
    infra = Infra(infra_settings.with_(connect_port=free_port()))
    infra.kafka.ensure_jars()  # Connect runs from the broker's jars, fetched already unless the broker is external
    connect = infra.connect
    try:
        connect.up()
        yield connect
    finally:
        connect.down()


@pytest.fixture
def unique_name() -> str:
    """A short unique name for topics, groups and tables of one test."""
    return f"t{uuid.uuid4().hex[:12]}"


@pytest.fixture
def test_settings(infra_settings: Settings, unique_name: str) -> Settings:
    """Settings whose topic names are private to the calling test."""
    return infra_settings.with_(topic_prefix=f"jobstream-{unique_name}", partitions=3)


@pytest.fixture(autouse=True)
def _no_leaked_env() -> Iterator[None]:
    before = dict(os.environ)
    yield
    leaked = {k for k in os.environ if k not in before}
    assert not leaked, f"test leaked environment variables: {sorted(leaked)}"

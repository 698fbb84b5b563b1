"""Where the test session's Kafka and Postgres come from: ``JOBSTREAM_TEST_INFRA``.

- ``local`` (the default): a private broker (the Kafka jars) and cluster (Debian's server) on free
  ports, except a service whose ``JOBSTREAM_KAFKA_BOOTSTRAP`` / ``JOBSTREAM_DATABASE_URL`` is set;
- ``external``: both of those must be set, nothing is started;
- ``testcontainers``: both start as Docker containers through testcontainers, which needs a reachable
  Docker engine (and the ``containers`` extra): without one it is an error, never a silent fallback.

``choose`` is pure (the environment and a Docker probe are passed in); ``docker_reachable`` asks the
engine's ``/_ping`` over its socket.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlparse

VARIABLE = "JOBSTREAM_TEST_INFRA"
KAFKA_VARIABLE, DATABASE_VARIABLE = "JOBSTREAM_KAFKA_BOOTSTRAP", "JOBSTREAM_DATABASE_URL"
DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"


class Mode(StrEnum):
    LOCAL = "local"
    EXTERNAL = "external"
    TESTCONTAINERS = "testcontainers"


class Source(StrEnum):
    LOCAL = "local"  # started by the session from the jars / Debian's server
    EXTERNAL = "external"  # given by its environment variable
    CONTAINER = "container"  # started by testcontainers


@dataclass(frozen=True)
class Plan:
    kafka: Source
    postgres: Source


class InfraChoiceError(ValueError):
    """The choice cannot be honoured; the message says what to set or install."""


def docker_host(env: Mapping[str, str]) -> str:
    return env.get("DOCKER_HOST") or DEFAULT_DOCKER_HOST


def choose(env: Mapping[str, str], docker_reachable: Callable[[str], bool]) -> Plan:
    """The plan for ``env``; ``docker_reachable(host)`` is asked only for ``testcontainers``."""
    raw = (env.get(VARIABLE) or Mode.LOCAL.value).strip().lower()
    try:
        mode = Mode(raw)
    except ValueError:
        raise InfraChoiceError(f"{VARIABLE}={raw!r}: expected one of {', '.join(m.value for m in Mode)}") from None
    given = {KAFKA_VARIABLE: bool(env.get(KAFKA_VARIABLE)), DATABASE_VARIABLE: bool(env.get(DATABASE_VARIABLE))}
    if mode == Mode.EXTERNAL:
        missing = [name for name, present in given.items() if not present]
        if missing:
            raise InfraChoiceError(f"{VARIABLE}=external needs {' and '.join(missing)} (nothing is started)")
        return Plan(Source.EXTERNAL, Source.EXTERNAL)
    if mode == Mode.TESTCONTAINERS:
        host = docker_host(env)
        if not docker_reachable(host):
            raise InfraChoiceError(f"{VARIABLE}=testcontainers needs a Docker engine, and none answers at {host}; "
                                 f"use {VARIABLE}=local (the default) on a machine without Docker")
        return Plan(Source.CONTAINER, Source.CONTAINER)
    return Plan(Source.EXTERNAL if given[KAFKA_VARIABLE] else Source.LOCAL,
                Source.EXTERNAL if given[DATABASE_VARIABLE] else Source.LOCAL)


def docker_reachable(host: str, timeout_s: float = 2.0) -> bool:
    """Whether a Docker engine answers ``GET /_ping`` at ``host`` (``unix://`` or ``tcp://``)."""
    url = urlparse(host)
    if url.scheme == "unix":
        family, address = socket.AF_UNIX, url.path
    elif url.scheme in ("tcp", "http"):
        family, address = socket.AF_INET, (url.hostname or "localhost", url.port or 2375)  # type: ignore[assignment]
    else:
        return False
    try:
        with socket.socket(family, socket.SOCK_STREAM) as conn:
            conn.settimeout(timeout_s)
            conn.connect(address)
            conn.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            status_line = conn.recv(64).split(b"\r\n", 1)[0]
    except OSError:
        return False
    return status_line.startswith(b"HTTP/1.") and status_line.split(b" ")[1:2] == [b"200"]


@dataclass
class Containers:
    """Kafka and Postgres started by testcontainers (only where a Docker engine runs; see the README)."""

    bootstrap: str
    dsn: str
    stop: Callable[[], None]


def start_containers(kafka_image: str = "confluentinc/cp-kafka:7.7.1",
                     postgres_image: str = "postgres:16-alpine") -> Containers:
    """Start both containers (testcontainers from the ``containers`` extra); ``stop`` removes them."""
    from testcontainers.kafka import KafkaContainer  # deferred: only this path needs Docker's client
    from testcontainers.postgres import PostgresContainer

    kafka = KafkaContainer(kafka_image).with_kraft()
    postgres = PostgresContainer(postgres_image, username="jobstream", password="jobstream", dbname="jobstream")
    kafka.start()
    try:
        postgres.start()
    except BaseException:
        kafka.stop()
        raise

    def stop() -> None:
        postgres.stop()
        kafka.stop()

    return Containers(kafka.get_bootstrap_server(), postgres.get_connection_url(driver=None), stop)

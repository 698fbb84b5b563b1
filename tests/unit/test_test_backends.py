"""JOBSTREAM_TEST_INFRA: which Kafka and Postgres the test session uses, and the Docker probe."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest

from jobstream.infra.test_backends import InfraChoiceError, Plan, Source, choose, docker_reachable

KAFKA, DATABASE = {"JOBSTREAM_KAFKA_BOOTSTRAP": "k:9092"}, {"JOBSTREAM_DATABASE_URL": "postgresql://db/x"}


def no_docker(host: str) -> bool:
    raise AssertionError("only testcontainers asks for Docker")


def test_local_is_the_default_and_uses_what_the_environment_names() -> None:
    assert choose({}, no_docker) == Plan(Source.LOCAL, Source.LOCAL)
    assert choose({"JOBSTREAM_TEST_INFRA": ""}, no_docker) == Plan(Source.LOCAL, Source.LOCAL)
    assert choose({**KAFKA}, no_docker) == Plan(Source.EXTERNAL, Source.LOCAL)
    assert choose({"JOBSTREAM_TEST_INFRA": "LOCAL", **DATABASE}, no_docker) == Plan(Source.LOCAL, Source.EXTERNAL)


def test_external_needs_both_services_named() -> None:
    assert choose({"JOBSTREAM_TEST_INFRA": "external", **KAFKA, **DATABASE}, no_docker) == Plan(Source.EXTERNAL,
                                                                                                  Source.EXTERNAL)
    with pytest.raises(InfraChoiceError, match="needs JOBSTREAM_DATABASE_URL"):
        choose({"JOBSTREAM_TEST_INFRA": "external", **KAFKA}, no_docker)


def test_testcontainers_needs_a_docker_engine_and_never_falls_back_silently() -> None:
    asked: list[str] = []

    def docker(host: str) -> bool:
        asked.append(host)
        return host == "tcp://docker:2375"

    env = {"JOBSTREAM_TEST_INFRA": "testcontainers"}
    assert choose({**env, "DOCKER_HOST": "tcp://docker:2375"}, docker) == Plan(Source.CONTAINER, Source.CONTAINER)
    with pytest.raises(InfraChoiceError, match="needs a Docker engine, and none answers at unix:///var/run/docker"):
        choose(env, docker)
    assert asked == ["tcp://docker:2375", "unix:///var/run/docker.sock"]


def test_an_unknown_choice_is_named() -> None:
    with pytest.raises(InfraChoiceError, match="JOBSTREAM_TEST_INFRA='docker': expected one of local, external"):
        choose({"JOBSTREAM_TEST_INFRA": "docker"}, no_docker)


def test_the_docker_probe_reads_the_engine_s_ping_answer(tmp_path: Path) -> None:
    assert not docker_reachable(f"unix://{tmp_path}/nothing.sock")
    assert not docker_reachable("ssh://somewhere")
    for answer, reachable in ((b"HTTP/1.1 200 OK\r\n\r\nOK", True), (b"HTTP/1.1 500 Oops\r\n\r\n", False)):
        path = tmp_path / f"engine-{reachable}.sock"
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
            server.bind(str(path))
            server.listen(1)

            def serve(server: socket.socket = server, answer: bytes = answer) -> None:
                conn, _ = server.accept()
                with conn:
                    conn.recv(1024)
                    conn.sendall(answer)

            thread = threading.Thread(target=serve)
            thread.start()
            assert docker_reachable(f"unix://{path}") is reachable
            thread.join(5)

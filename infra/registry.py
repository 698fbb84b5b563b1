"""A local Apicurio Registry (in-memory storage): the schema registry of Confluent's wire format.

Its Quarkus application comes from Maven Central (``io.apicurio:apicurio-registry-app``, the
``all`` tar.gz), unpacked into the cache once. Its Confluent-compatible API is ``/apis/ccompat/v7``,
which is what ``JOBSTREAM_SCHEMA_REGISTRY_URL`` points at. 3.0.9 is the newest release that runs on
Java 17 (3.1 onwards are built for Java 21). Storage is H2 in memory: schemas live as long as the
process, and producers register theirs again on first use after a restart.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import httpx

from jobstream.infra.jvm import DetachedJvm
from jobstream.infra.maven import unpacked_archive
from jobstream.infra.process import InfraError, port_open

APICURIO_VERSION = "3.0.9"
CCOMPAT_PATH = "/apis/ccompat/v7"
READY_TIMEOUT_S = 180.0  # about 30 s here on a busy 2-core machine


@dataclass(frozen=True)
class LocalRegistry:
    home: Path
    cache_dir: Path
    port: int
    heap: str = "256m"

    @property
    def url(self) -> str:
        """What JOBSTREAM_SCHEMA_REGISTRY_URL and converters take: the Confluent-compatible API."""
        return f"http://127.0.0.1:{self.port}{CCOMPAT_PATH}"

    @property
    def app_dir(self) -> Path:
        return self.cache_dir / f"apicurio-registry-{APICURIO_VERSION}"

    @property
    def jvm(self) -> DetachedJvm:
        return DetachedJvm("schema registry", self.home, f"-Djobstream.registry.home={self.home}")

    def ensure_app(self) -> Path:
        coordinates = f"io.apicurio:apicurio-registry-app:{APICURIO_VERSION}:tar.gz:all"
        app = unpacked_archive(self.cache_dir, coordinates, self.app_dir)
        runners = sorted(app.glob("*-runner.jar")) or sorted(app.glob("quarkus-run.jar"))
        if not runners:
            raise InfraError(f"no runner jar in {app}")
        return runners[0]

    def command(self, runner: Path) -> list[str]:
        return [
            "java", f"-Xmx{self.heap}", "-Xms64m",
            "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",  # start fast, few threads: it shares 2 cores
            self.jvm.marker,
            "-Dquarkus.http.host=127.0.0.1", f"-Dquarkus.http.port={self.port}",
            "-jar", str(runner),
        ]

    def answers(self) -> bool:
        try:
            return httpx.get(f"{self.url}/subjects", timeout=2.0).status_code == 200
        except httpx.HTTPError:
            return False

    def up(self) -> str:
        pid = self.jvm.running_pid()
        if pid is not None:
            self.jvm.wait_ready(pid, self.answers, READY_TIMEOUT_S)
            return f"schema registry already running (pid {pid}) at {self.url}"
        if port_open(self.port):
            raise InfraError(f"port {self.port} is taken by another process; stop it or set JOBSTREAM_REGISTRY_PORT")
        pid = self.jvm.start(self.command(self.ensure_app()), self.answers, READY_TIMEOUT_S)
        return f"schema registry started (pid {pid}) at {self.url}"

    def down(self) -> str:
        return self.jvm.stop()

    def status(self) -> str:
        pid = self.jvm.running_pid()
        if pid is None:
            return "schema registry: stopped"
        return f"schema registry: {'ready' if self.answers() else 'starting'} (pid {pid}) url={self.url}"

"""A local Kafka Connect worker (distributed mode), run from the broker's jars, with two plugins.

Kafka's ``ConnectDistributed`` is on the broker's classpath (the operator tools bring Connect's
runtime). The plugins come from Maven Central through the project's set-up, into the cache: the
Debezium JDBC sink (its plugin ``tar.gz``) and Apicurio's Avro converter (``infra/connect/pom.xml``).
The worker keeps its connectors, offsets and status in three compacted topics of the broker, so a
worker killed and started again carries on from its committed offsets.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import httpx

from jobstream.infra.jvm import DetachedJvm
from jobstream.infra.maven import copied_dependencies, unpacked_archive
from jobstream.infra.process import InfraError, port_open

CONVERTER_POM = Path(__file__).parent / "connect" / "pom.xml"
CONNECTOR_CONFIG = Path(__file__).parent / "connect" / "job-events-to-postgres.json"  # `jobstream connect deploy`
DEBEZIUM_JDBC = "io.debezium:debezium-connector-jdbc:3.6.0.Final:tar.gz:plugin"  # 3.6.1's is not served
READY_TIMEOUT_S = 180.0
SINK_CLASS = "io.debezium.connector.jdbc.JdbcSinkConnector"


@dataclass(frozen=True)
class LocalConnect:
    home: Path
    cache_dir: Path
    kafka_libs: Path  # the broker's jars: Connect's runtime is among them
    bootstrap: str
    port: int
    group: str = "jobstream-connect"  # also the prefix of its three topics
    heap: str = "384m"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def plugins_dir(self) -> Path:
        digest = hashlib.sha256(CONVERTER_POM.read_bytes() + DEBEZIUM_JDBC.encode()).hexdigest()[:12]
        return self.cache_dir / f"connect-plugins-{digest}"

    @property
    def jvm(self) -> DetachedJvm:
        return DetachedJvm("kafka connect worker", self.home, f"-Djobstream.connect.home={self.home}")

    def ensure_plugins(self) -> Path:
        """The JDBC sink and the Avro converter, each a plugin directory of its own."""
        unpacked_archive(self.cache_dir, DEBEZIUM_JDBC, self.plugins_dir / "debezium-connector-jdbc")
        copied_dependencies(self.cache_dir, CONVERTER_POM, self.plugins_dir / "apicurio-converter")
        return self.plugins_dir

    def _write_config(self, plugins: Path) -> Path:
        config = self.home / "connect-distributed.properties"
        config.write_text("\n".join([
            f"bootstrap.servers={self.bootstrap}",
            f"group.id={self.group}",
            f"config.storage.topic={self.group}.configs",
            f"offset.storage.topic={self.group}.offsets",
            f"status.storage.topic={self.group}.status",
            # One broker: the worker's topics cannot have more replicas than that.
            "config.storage.replication.factor=1",
            "offset.storage.replication.factor=1",
            "status.storage.replication.factor=1",
            "offset.storage.partitions=5",
            "status.storage.partitions=1",
            "offset.flush.interval.ms=1000",
            "key.converter=org.apache.kafka.connect.storage.StringConverter",
            "value.converter=org.apache.kafka.connect.json.JsonConverter",  # each connector names its own
            f"listeners=http://127.0.0.1:{self.port}",
            "rest.advertised.host.name=127.0.0.1",
            f"rest.advertised.port={self.port}",
            f"plugin.path={plugins}",
            "plugin.discovery=only_scan",  # the plugins predate service-loader manifests
            "",
        ]))
        (self.home / "log4j.properties").write_text("\n".join([
            "log4j.rootLogger=INFO, file",
            "log4j.logger.org.reflections=ERROR",
            "log4j.appender.file=org.apache.log4j.RollingFileAppender",
            f"log4j.appender.file.File={self.home / 'connect.log'}",
            "log4j.appender.file.MaxFileSize=50MB",
            "log4j.appender.file.MaxBackupIndex=2",
            "log4j.appender.file.layout=org.apache.log4j.PatternLayout",
            "log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n",
            "",
        ]))
        return config

    def command(self, config: Path) -> list[str]:
        return [
            "java", f"-Xmx{self.heap}", "-Xms64m",
            "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",  # few threads, fast start: it shares 2 cores
            self.jvm.marker,
            "-Djava.awt.headless=true",
            f"-Dlog4j.configuration=file:{self.home / 'log4j.properties'}",
            "-cp", f"{self.kafka_libs}/*",
            "org.apache.kafka.connect.cli.ConnectDistributed", str(config),
        ]

    def answers(self) -> bool:
        """The REST API is up and the sink plugin is loaded (the worker has joined its group)."""
        try:
            response = httpx.get(f"{self.url}/connector-plugins", timeout=2.0)
        except httpx.HTTPError:
            return False
        return response.status_code == 200 and any(p.get("class") == SINK_CLASS for p in response.json())

    def up(self) -> str:
        pid = self.jvm.running_pid()
        if pid is not None:
            self.jvm.wait_ready(pid, self.answers, READY_TIMEOUT_S)
            return f"kafka connect already running (pid {pid}) at {self.url}"
        if port_open(self.port):
            raise InfraError(f"port {self.port} is taken by another process; stop it or set JOBSTREAM_CONNECT_PORT")
        self.home.mkdir(parents=True, exist_ok=True)
        config = self._write_config(self.ensure_plugins())
        pid = self.jvm.start(self.command(config), self.answers, READY_TIMEOUT_S)
        return f"kafka connect started (pid {pid}) at {self.url}"

    def down(self) -> str:
        return self.jvm.stop()

    def status(self) -> str:
        pid = self.jvm.running_pid()
        if pid is None:
            return "kafka connect: stopped"
        return f"kafka connect: {'ready' if self.answers() else 'starting'} (pid {pid}) url={self.url}"

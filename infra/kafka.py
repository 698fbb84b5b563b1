"""A local Apache Kafka broker in KRaft mode (broker and controller in one JVM), run from Maven jars.

The jars (the broker's and Kafka's operator tools', one classpath as in Kafka's own distribution)
are fetched by Maven from ``infra/kafka/pom.xml`` into a cache outside git, once per Kafka version
and pom. Storage is formatted with ``kafka.tools.StorageTool`` and the broker is started with
``kafka.Kafka``, detached, listening on loopback only, logging to a file.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jobstream.infra.kafka_secure import SecureFiles, listener_lines, scram_format_args
from jobstream.infra.process import (
    InfraError,
    cmdline,
    find_process,
    pid_alive,
    port_open,
    read_pid,
    tail,
    terminate,
    wait_until,
)

POM = Path(__file__).parent / "kafka" / "pom.xml"
READY_TIMEOUT_S = 90.0


def request_thread_lines(cores: int) -> list[str]:
    """Request threads sized to the machine. Kafka's defaults (3 network, 8 I/O threads) are for a
    server of its own; beside the whole stack on 2 cores, one network and two I/O threads cost the
    broker about a fifth less CPU per job in a burst (docs/architecture.md)."""
    return [f"num.network.threads={max(1, cores // 2)}", f"num.io.threads={max(2, cores)}"]


@dataclass(frozen=True)
class LocalKafka:
    """One broker's files live in ``home``; its jars in ``cache_dir``."""

    home: Path
    cache_dir: Path
    version: str
    port: int
    controller_port: int
    heap: str = "512m"
    # A node of a cluster: its id, the controller quorum ("1@host:port,..."), the replicas of
    # internal topics, and the cluster id its storage is formatted with.
    node_id: int = 1
    voters: str | None = None
    replication: int = 1
    cluster_id: str | None = None
    # SASL_SSL with SCRAM users and ACLs (kafka_secure.py) instead of PLAINTEXT; one node only.
    secure: bool = False

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def libs(self) -> Path:
        """One directory per pom: a pom that gains a dependency (the tools did) is fetched anew
        beside the old jars, which a running broker may still be reading."""
        return self.cache_dir / f"kafka-{self.version}" / f"libs-{pom_digest()}"

    @property
    def secure_files(self) -> SecureFiles:
        return SecureFiles(self.home / "secure")

    def client_security(self) -> dict[str, Any]:
        """librdkafka's settings for the admin of this broker: none unless it is secure."""
        return self.secure_files.client_security() if self.secure else {}

    @property
    def pid_file(self) -> Path:
        return self.home / "kafka.pid"

    @property
    def log_file(self) -> Path:
        return self.home / "logs" / "server.log"

    @property
    def stdout_file(self) -> Path:
        return self.home / "logs" / "stdout.log"

    # -- set-up ---------------------------------------------------------------------------

    def ensure_jars(self) -> None:
        """Fetch the broker and tools jars with Maven unless this version and pom are cached."""
        if (self.libs / ".complete").exists():
            return
        if shutil.which("mvn") is None:
            raise InfraError("Maven (mvn) is not on PATH; it fetches the Kafka broker jars")
        # Fetched aside and renamed into place: a concurrent fetch or reader never sees half a classpath.
        partial = self.libs.with_name(f"{self.libs.name}.partial-{os.getpid()}")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        command = [
            "mvn", "-q", "-B", "-f", str(POM),
            f"-Dmaven.repo.local={self.cache_dir / 'm2'}",
            f"-Dkafka.version={self.version}",
            "dependency:copy-dependencies",
            f"-DoutputDirectory={partial}",
            "-DincludeScope=runtime",
        ]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            shutil.rmtree(partial, ignore_errors=True)
            raise InfraError(f"fetching Kafka {self.version} jars failed:\n"
                             f"{result.stdout[-2000:]}{result.stderr[-2000:]}")
        (partial / ".complete").touch()
        try:
            partial.rename(self.libs)
        except OSError:  # another process fetched the same jars first
            shutil.rmtree(partial, ignore_errors=True)
        self._remove_stale_libs()

    def _remove_stale_libs(self) -> None:
        """Jars of older poms of this version unless a running process has them on its classpath,
        and fetches that died half-way."""
        for stale in self.libs.parent.glob("libs*"):
            if stale == self.libs:
                continue
            pid = stale.name.partition(".partial-")[2]
            in_use = pid_alive(int(pid)) if pid.isdigit() else find_process(f"{stale}{os.sep}") is not None
            if not in_use:
                shutil.rmtree(stale, ignore_errors=True)

    def _write_config(self) -> Path:
        data_dir = self.home / "data"
        config = self.home / "server.properties"
        config.touch(mode=0o600)  # a secure broker's holds its own password
        config.write_text(
            "\n".join(
                [
                    "process.roles=broker,controller",
                    f"node.id={self.node_id}",
                    f"controller.quorum.voters={self.voters or f'{self.node_id}@127.0.0.1:{self.controller_port}'}",
                    *self._listener_lines(),
                    f"log.dirs={data_dir}",
                    # Internal topics (offsets, transaction state) as replicated as ours: one
                    # broker cannot hold more replicas than one; a cluster acknowledges at 2.
                    f"offsets.topic.replication.factor={self.replication}",
                    "offsets.topic.num.partitions=12",
                    f"transaction.state.log.replication.factor={self.replication}",
                    f"transaction.state.log.min.isr={min(2, self.replication)}",
                    f"min.insync.replicas={min(2, self.replication)}",
                    f"default.replication.factor={self.replication}",
                    "unclean.leader.election.enable=false",
                    # Consumers of a fresh group start at once instead of waiting 3 s for peers.
                    "group.initial.rebalance.delay.ms=0",
                    # Topics are created explicitly (jobstream.infra.topics), never by a typo.
                    "auto.create.topics.enable=false",
                    "num.partitions=12",
                    *request_thread_lines(os.cpu_count() or 1),
                    "",
                ]
            )
        )
        (self.home / "log4j.properties").write_text(
            "\n".join(
                [
                    "log4j.rootLogger=INFO, file",
                    "log4j.logger.kafka=INFO",
                    "log4j.logger.org.apache.kafka=INFO",
                    "log4j.appender.file=org.apache.log4j.RollingFileAppender",
                    f"log4j.appender.file.File={self.log_file}",
                    "log4j.appender.file.MaxFileSize=50MB",
                    "log4j.appender.file.MaxBackupIndex=3",
                    "log4j.appender.file.layout=org.apache.log4j.PatternLayout",
                    "log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n",
                    "",
                ]
            )
        )
        return config

    def _listener_lines(self) -> list[str]:
        if self.secure:
            return listener_lines(self.port, self.controller_port, self.secure_files)
        return [f"listeners=PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
                f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.port}",
                "controller.listener.names=CONTROLLER",
                "inter.broker.listener.name=PLAINTEXT",
                "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"]

    def _java(self, main_class: str, *args: str) -> list[str]:
        return [
            "java",
            f"-Xmx{self.heap}",
            "-Xms128m",
            "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dlog4j.configuration=file:{self.home / 'log4j.properties'}",
            f"-Dkafka.logs.dir={self.log_file.parent}",
            "-cp",
            f"{self.libs}/*",
            main_class,
            *args,
        ]

    def _format_storage(self, config: Path) -> None:
        if (self.home / "data" / "meta.properties").exists():
            return
        cluster_id = self.cluster_id or new_cluster_id()
        users = scram_format_args(self.secure_files) if self.secure else []
        command = self._java("kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(config), *users)
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            raise InfraError(f"formatting Kafka storage failed:\n{result.stdout}{result.stderr}")

    # -- life cycle -----------------------------------------------------------------------

    def running_pid(self) -> int | None:
        """Our broker's pid if it runs. A stale pid file (process gone or pid reused) is replaced
        by what the process table says, so a lost pid file never orphans a broker."""
        pid = read_pid(self.pid_file)
        if pid is not None and pid_alive(pid) and self._is_ours(pid):
            return pid
        found = find_process("kafka.Kafka", str(self.home / "server.properties"))
        if found is None:
            self.pid_file.unlink(missing_ok=True)
        else:
            self.pid_file.write_text(str(found))
        return found

    def _is_ours(self, pid: int) -> bool:
        line = cmdline(pid)
        return "kafka.Kafka" in line and str(self.home / "server.properties") in line

    def up(self) -> str:
        """Start the broker unless ours runs already; return a one-line description."""
        pid = self.running_pid()
        if pid is not None:
            self.wait_ready(pid)
            return f"kafka already running (pid {pid}) at {self.bootstrap}"
        process = self.start()
        self.wait_ready(process.pid, process)
        return f"kafka started (pid {process.pid}) at {self.bootstrap}"

    def start(self) -> subprocess.Popen[bytes]:
        """Start the broker, detached, without waiting for it (a cluster's nodes wait for each other)."""
        for port in (self.port, self.controller_port):
            if port_open(port):
                raise InfraError(
                    f"port {port} is taken by another process; stop it or set "
                    "JOBSTREAM_KAFKA_PORT / JOBSTREAM_KAFKA_CONTROLLER_PORT"
                )
        self.ensure_jars()
        self.home.mkdir(parents=True, exist_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        config = self._write_config()
        self._format_storage(config)
        with self.stdout_file.open("ab") as out:
            process = subprocess.Popen(
                self._java("kafka.Kafka", str(config)),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # survives the CLI that started it
            )
        self.pid_file.write_text(str(process.pid))
        return process

    def wait_ready(self, pid: int, process: subprocess.Popen[bytes] | None = None) -> None:
        def ready() -> bool:
            exited = process.poll() is not None if process is not None else not pid_alive(pid)
            if exited:
                raise InfraError(
                    f"the Kafka broker (pid {pid}) exited; last lines of its logs:\n"
                    f"{tail(self.stdout_file)}\n{tail(self.log_file)}"
                )
            return port_open(self.port) and broker_answers(self.bootstrap, security=self.client_security())

        wait_until(ready, READY_TIMEOUT_S, f"the Kafka broker at {self.bootstrap} (log: {self.log_file})", 0.25)

    def down(self) -> str:
        pid = self.running_pid()
        if pid is None:
            return "kafka not running"
        terminate(pid, timeout_s=30.0)
        self.pid_file.unlink(missing_ok=True)
        return f"kafka stopped (pid {pid})"

    def status(self) -> str:
        pid = self.running_pid()
        if pid is None:
            return "kafka: stopped"
        state = "ready" if broker_answers(self.bootstrap, security=self.client_security()) else "starting"
        secure = " SASL_SSL" if self.secure else ""
        return f"kafka: {state}{secure} (pid {pid}) bootstrap={self.bootstrap} log={self.log_file}"


def pom_digest() -> str:
    """A short digest of the pom: its jars' directory name."""
    return hashlib.sha256(POM.read_bytes()).hexdigest()[:12]


def new_cluster_id() -> str:
    """A KRaft cluster id: base64url of a random UUID. Like Kafka's Uuid.randomUuid(), never one
    starting with '-', which the storage tool would read as an option (1 in 64 otherwise)."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


def broker_answers(bootstrap: str, timeout_s: float = 2.0, security: dict[str, Any] | None = None) -> bool:
    """True when a broker at ``bootstrap`` answers a metadata request (authenticated with ``security``)."""
    from confluent_kafka.admin import AdminClient

    try:
        config = {"bootstrap.servers": bootstrap, "log_level": 0, **(security or {})}
        metadata = AdminClient(config).list_topics(timeout=timeout_s)
    except Exception:  # noqa: BLE001 - any failure means "not ready yet"
        return False
    return bool(metadata.brokers)

"""The infrastructure as a whole: the broker and the database, local or external, from Settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jobstream.config import Settings, env_name
from jobstream.infra.connect import LocalConnect
from jobstream.infra.kafka import LocalKafka, broker_answers
from jobstream.infra.kafka_acls import apply_acls
from jobstream.infra.kafka_cluster import LocalKafkaCluster
from jobstream.infra.kafka_secure import SecureFiles
from jobstream.infra.kafka_users import ROLES
from jobstream.infra.postgres import LocalPostgres, answers_query
from jobstream.infra.process import InfraError
from jobstream.infra.registry import LocalRegistry
from jobstream.infra.topics import Topics, ensure_topics
from jobstream.streams.kafka_security import client_security


@dataclass(frozen=True)
class Infra:
    settings: Settings

    @property
    def kafka(self) -> LocalKafka | LocalKafkaCluster:
        """One broker (the default), or a cluster of ``kafka_brokers`` nodes."""
        s = self.settings
        if s.kafka_brokers > 1:
            if s.kafka_secure:
                raise InfraError("a secure broker (--secure) is one node; a secure cluster is not built yet")
            return LocalKafkaCluster(s.state_dir / "kafka-cluster", s.cache_dir, s.kafka_version,
                                     tuple(s.kafka_node_ports), s.kafka_heap)
        return LocalKafka(s.state_dir / "kafka", s.cache_dir, s.kafka_version, s.kafka_port,
                          s.kafka_controller_port, s.kafka_heap, secure=s.kafka_secure)

    @property
    def admin_security(self) -> dict[str, Any]:
        """How ``infra up`` authenticates: as the local secure broker's admin, else as the settings say."""
        kafka = self.kafka
        if not self.settings.external_kafka and isinstance(kafka, LocalKafka) and kafka.secure:
            return kafka.client_security()
        return client_security(self.settings)

    @property
    def postgres(self) -> LocalPostgres:
        return LocalPostgres(self.settings.state_dir / "postgres", self.settings.pg_port)

    @property
    def registry(self) -> LocalRegistry:
        return LocalRegistry(self.settings.state_dir / "registry", self.settings.cache_dir, self.settings.registry_port)

    @property
    def connect(self) -> LocalConnect:
        s = self.settings
        return LocalConnect(s.state_dir / "connect", s.cache_dir, self.kafka.libs, s.kafka_bootstrap, s.connect_port)

    @property
    def topics(self) -> Topics:
        return Topics(self.settings.topic_prefix)

    def up(self, *, registry: bool = False, connect: bool = False) -> list[str]:
        """Start what is local and not running, create missing topics; one line per fact. The schema
        registry and the Connect worker only when asked (JVMs the scheduler itself does not need);
        the worker's Avro converter reads the registry, so Connect brings it too."""
        registry = registry or connect
        s = self.settings
        lines = []
        if s.external_kafka:
            lines.append(f"kafka: external at {s.external_kafka}")
        else:
            lines.append(self.kafka.up())
        if s.external_database_url:
            lines.append("postgres: external (JOBSTREAM_DATABASE_URL)")
        else:
            lines.append(self.postgres.up())
        if registry:
            lines.append(self.registry.up())
        if connect:
            lines.append(self.connect.up())
        created = ensure_topics(s.kafka_bootstrap, self.topics.specs(s.partitions, s.log_retention_days),
                                replication=s.replication_factor, security=self.admin_security)
        lines.append(f"topics: {len(created)} created" + (f" ({', '.join(created)})" if created else ", all present"))
        lines.append(f"JOBSTREAM_KAFKA_BOOTSTRAP={s.kafka_bootstrap}")
        if s.kafka_secure and not s.external_kafka:
            lines += self._secure_lines()
        lines.append(f"JOBSTREAM_DATABASE_URL={s.database_url}")
        if registry:
            lines.append(f"JOBSTREAM_SCHEMA_REGISTRY_URL={self.registry.url}")
        return lines

    def as_role(self, role: str) -> Settings:
        """The settings of a process authenticating as ``role`` to the local secure broker (these
        settings if the broker is not one)."""
        kafka = self.kafka
        if self.settings.external_kafka or not isinstance(kafka, LocalKafka) or not kafka.secure:
            return self.settings
        files = kafka.secure_files
        return self.settings.with_(kafka_security_protocol="SASL_SSL", kafka_ca_file=files.tls.ca,
                                   kafka_sasl_username=role, kafka_sasl_password=files.ensure()[role])

    def _secure_lines(self) -> list[str]:
        """Create the roles' ACLs; say how a process authenticates (each as its role)."""
        files = SecureFiles(self.settings.state_dir / "kafka" / "secure")
        count = apply_acls({"bootstrap.servers": self.settings.kafka_bootstrap, **self.admin_security}, self.topics)
        return [f"acls: {count} in place for roles {', '.join(ROLES)} (passwords in {files.users_file})",
                f"{env_name('kafka_security_protocol')}=SASL_SSL",
                f"{env_name('kafka_ca_file')}={files.tls.ca}",
                f"{env_name('kafka_sasl_username')}=<role>  {env_name('kafka_sasl_password')}=<its password>"]

    def down(self) -> list[str]:
        lines = [self.connect.down(), self.registry.down()]
        if not self.settings.external_database_url:
            lines.append(self.postgres.down())
        if not self.settings.external_kafka:
            lines.append(self.kafka.down())
        return lines

    def status(self) -> list[str]:
        s = self.settings
        reached = "ready" if s.external_kafka and broker_answers(s.external_kafka) else "unreachable"
        kafka = f"kafka: external {s.external_kafka} ({reached})" if s.external_kafka else self.kafka.status()
        postgres = (f"postgres: external ({'ready' if answers_query(s.database_url) else 'unreachable'})"
                    if s.external_database_url else self.postgres.status())
        return [*kafka.splitlines(), postgres, self.registry.status(), self.connect.status()]


def local_secure(settings: Settings) -> bool:
    """Whether `infra up --secure` made the local broker in the state directory secure."""
    return (settings.state_dir / "kafka" / "secure" / "users.json").exists()


def local_cluster_size(settings: Settings) -> int | None:
    """How many nodes the local cluster in the state directory has, if one was started there."""
    nodes = list((settings.state_dir / "kafka-cluster").glob("node-*/server.properties"))
    return len(nodes) or None

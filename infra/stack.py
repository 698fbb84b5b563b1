"""The infrastructure as a whole: the broker and the database, local or external, from Settings."""

from __future__ import annotations

from dataclasses import dataclass

from jobstream.config import Settings
from jobstream.infra.connect import LocalConnect
from jobstream.infra.kafka import LocalKafka, broker_answers
from jobstream.infra.postgres import LocalPostgres, answers_query
from jobstream.infra.registry import LocalRegistry
from jobstream.infra.topics import Topics, ensure_topics


@dataclass(frozen=True)
class Infra:
    settings: Settings

    @property
    def kafka(self) -> LocalKafka:
        s = self.settings
        return LocalKafka(s.state_dir / "kafka", s.cache_dir, s.kafka_version, s.kafka_port,
                          s.kafka_controller_port, s.kafka_heap)

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
        created = ensure_topics(s.kafka_bootstrap, self.topics.specs(s.partitions))
        lines.append(f"topics: {len(created)} created" + (f" ({', '.join(created)})" if created else ", all present"))
        lines.append(f"JOBSTREAM_KAFKA_BOOTSTRAP={s.kafka_bootstrap}")
        lines.append(f"JOBSTREAM_DATABASE_URL={s.database_url}")
        if registry:
            lines.append(f"JOBSTREAM_SCHEMA_REGISTRY_URL={self.registry.url}")
        return lines

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
        return [kafka, postgres, self.registry.status(), self.connect.status()]

"""Every jobstream topic, with its partitions, retention and cleanup policy, created in one place.

The events topic is the source of truth and is kept forever so that any projection can be
rebuilt by replaying it. Commands are requests, kept long enough to replay a crashed processor.
Changelog-style topics (latest value per key) are compacted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic
from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_fixed

from jobstream.config import DEFAULT_LOG_RETENTION_DAYS
from jobstream.infra.process import InfraError, wait_until

HOUR_MS = 3600 * 1000
DAY_MS = 24 * HOUR_MS
FOREVER = "-1"


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    config: dict[str, str] = field(default_factory=dict)
    doc: str = ""


@dataclass(frozen=True)
class Topics:
    """Topic names under one prefix, so that tests and tenants can run side by side."""

    prefix: str = "jobstream"

    @property
    def commands(self) -> str:
        return f"{self.prefix}.commands"

    @property
    def timer_requests(self) -> str:
        return f"{self.prefix}.timer-requests"

    @property
    def events(self) -> str:
        return f"{self.prefix}.events"

    @property
    def workers(self) -> str:
        return f"{self.prefix}.workers"

    @property
    def dispatch(self) -> str:
        return f"{self.prefix}.dispatch"

    @property
    def assignments(self) -> str:
        return f"{self.prefix}.assignments"

    @property
    def logs(self) -> str:
        return f"{self.prefix}.logs"

    @property
    def dead_letters(self) -> str:
        return f"{self.prefix}.dead-letters"

    @property
    def templates(self) -> str:
        return f"{self.prefix}.templates"

    @property
    def keys(self) -> str:
        return f"{self.prefix}.keys"

    @property
    def secrets(self) -> str:
        return f"{self.prefix}.secrets"

    @property
    def audit(self) -> str:
        return f"{self.prefix}.audit"

    @property
    def poison(self) -> str:
        return f"{self.prefix}.poison"

    @property
    def command_results(self) -> str:
        return f"{self.prefix}.command-results"

    @property
    def state_processor_app(self) -> str:
        return f"{self.prefix}.state-processor"

    @property
    def timer_app(self) -> str:
        return f"{self.prefix}.timers"

    @property
    def dispatcher_app(self) -> str:
        return f"{self.prefix}.dispatcher"

    @property
    def worker_monitor_app(self) -> str:
        return f"{self.prefix}.worker-monitor"

    @property
    def projector_group(self) -> str:
        return f"{self.prefix}.projector"

    @property
    def logs_projector_group(self) -> str:
        return f"{self.prefix}.logs-projector"

    @property
    def processor_groups(self) -> dict[str, str]:
        """Each processor's consumer group, by the processor's name (whose lag the dashboard shows)."""
        return {"state processor": self.state_processor_app, "dispatcher": self.dispatcher_app,
                "timer processor": self.timer_app, "worker monitor": self.worker_monitor_app,
                "projector": self.projector_group, "logs projector": self.logs_projector_group,
                "analytics projector": self.analytics_app}

    @property
    def state_processor_changelog(self) -> str:
        """The state processor's job states: written in the same transactions as its events, so
        never behind or ahead of them."""
        return self.changelog(self.state_processor_app, "job-states")

    @property
    def dispatcher_changelog(self) -> str:
        """The dispatcher's ready executions (Avro JobReady values), written with its assignments."""
        return self.changelog(self.dispatcher_app, "ready-executions")

    @property
    def worker_monitor_changelog(self) -> str:
        """The worker monitor's liveness table (Avro WorkerLiveness values), written with its expiries."""
        return self.changelog(self.worker_monitor_app, "worker-liveness")

    @property
    def analytics_app(self) -> str:
        return f"{self.prefix}.analytics"

    @property
    def analytics_job_events(self) -> str:
        """Flat job events for analytics sinks (Kafka Connect), derived from the events topic."""
        return f"{self.prefix}.analytics.job-events"

    @property
    def analytics_changelog(self) -> str:
        return self.changelog(self.analytics_app, "job-context")

    def analytics_specs(self, partitions: int) -> list[TopicSpec]:
        """The analytics projector's topics, created by it (not every deployment runs it)."""
        week = {"retention.ms": str(7 * DAY_MS), "cleanup.policy": "delete"}
        return [
            TopicSpec(self.analytics_job_events, partitions, week,
                      "one flat JobEventRow per job event, keyed by job_id: for Kafka Connect sinks"),
            TopicSpec(self.analytics_changelog, partitions, {"cleanup.policy": "compact"},
                      "the analytics projector's job contexts, keyed by job_id, written with its rows"),
        ]

    @staticmethod
    def changelog(app_id: str, table: str) -> str:
        """faust's name for a table's changelog topic."""
        return f"{app_id}-{table}-changelog"

    def specs(self, partitions: int, log_retention_days: float = DEFAULT_LOG_RETENTION_DAYS) -> list[TopicSpec]:
        kept_forever = {"retention.ms": FOREVER, "retention.bytes": FOREVER, "cleanup.policy": "delete"}
        return [
            TopicSpec(self.commands, partitions, {"retention.ms": str(7 * DAY_MS), "cleanup.policy": "delete"},
                      "commands keyed by job_id; the job state processor consumes them"),
            TopicSpec(self.events, partitions, kept_forever,
                      "job events keyed by job_id: the source of truth, replayable"),
            TopicSpec(self.timer_requests, partitions, {"retention.ms": str(7 * DAY_MS), "cleanup.policy": "delete"},
                      "timers to arm and disarm, keyed by job_id, derived from events by the state processor"),
            TopicSpec(self.workers, partitions, kept_forever, "worker events keyed by worker_id"),
            TopicSpec(self.dispatch, partitions, {"retention.ms": str(DAY_MS), "cleanup.policy": "delete"},
                      "ready work and worker credits, keyed by queue: the dispatcher's input"),
            TopicSpec(self.assignments, partitions, {"retention.ms": str(DAY_MS), "cleanup.policy": "delete"},
                      "assignments and cancel notices, keyed by worker_id"),
            TopicSpec(self.logs, partitions, {"retention.ms": str(retention_ms(log_retention_days)),
                                              "cleanup.policy": "delete"},
                      "stdout/stderr chunks keyed by execution_id"),
            TopicSpec(self.dead_letters, partitions, {"cleanup.policy": "compact"},
                      "dead-lettered jobs keyed by job_id, latest state per job"),
            TopicSpec(self.templates, partitions, {"cleanup.policy": "compact"},
                      "job templates keyed by name, each value holding every version: the truth of templates"),
            TopicSpec(self.keys, 1, kept_forever,
                      "API keys created and revoked, keyed by key_id: the API folds them, a replay rebuilds them"),
            # Compacted so that a deleted data key (crypto-shredding) or value leaves the disk: the
            # active segment rolls within an hour, and compaction reaches a record within a day.
            TopicSpec(self.secrets, 1, {"cleanup.policy": "compact", "segment.ms": str(HOUR_MS),
                                        "max.compaction.lag.ms": str(DAY_MS), "min.cleanable.dirty.ratio": "0.01"},
                      "secrets sealed and data keys wrapped (ciphertexts only), keyed by dek:/secret:<namespace>/..."),
            TopicSpec(self.audit, partitions, kept_forever,
                      "the API's audit trail keyed by actor: changes made and requests refused"),
            # Processor state tables: the latest value per key, co-partitioned with their source.
            TopicSpec(self.state_processor_changelog, partitions, {"cleanup.policy": "compact"},
                      "the state processor's job states, keyed by job_id, written with its events"),
            TopicSpec(self.dispatcher_changelog, partitions, {"cleanup.policy": "compact"},
                      "the dispatcher's ready executions, keyed by job_id, written with its assignments"),
            TopicSpec(self.changelog(self.timer_app, "timers"), partitions, {"cleanup.policy": "compact"},
                      "the timer processor's pending timers, keyed by timer_id"),
            TopicSpec(self.worker_monitor_changelog, partitions, {"cleanup.policy": "compact"},
                      "the worker monitor's liveness table, keyed by worker_id, written with its expiries"),
            TopicSpec(self.poison, 1, kept_forever,
                      "messages no consumer could decode, with their origin topic, partition and offset"),
            TopicSpec(self.command_results, partitions,
                      {"retention.ms": str(7 * DAY_MS), "cleanup.policy": "compact,delete"},
                      "what became of each command (accepted, rejected, poisoned), keyed by command_id; "
                      "written by the projector"),
        ]


def retention_ms(days: float) -> int:
    return round(days * DAY_MS)


def replicated(config: dict[str, str], replication: int) -> dict[str, str]:
    """A topic's config on a cluster: a write is acknowledged once 2 replicas have it, and a
    replica that missed writes never becomes leader (which would lose them)."""
    if replication == 1:
        return config
    return {**config, "min.insync.replicas": str(min(2, replication)), "unclean.leader.election.enable": "false"}


def ensure_topics(bootstrap: str, specs: list[TopicSpec], timeout_s: float = 30.0, replication: int = 1,
                  security: dict[str, Any] | None = None) -> list[str]:
    """Create the missing topics with ``replication`` replicas each, as the client ``security``
    authenticates (streams/kafka_security.py); existing ones are left as they are. Returns the
    names created. A cluster that just formed answers with transient errors (a connection torn
    down, no controller yet) for a while: those are retried until ``timeout_s``."""
    retrying = Retrying(retry=retry_if_exception_type(_Transient), stop=stop_after_delay(max(timeout_s, 60.0)),
                        wait=wait_fixed(0.5), reraise=True)
    created: list[str] = []
    admin = {"bootstrap.servers": bootstrap, "log_level": 0, **(security or {})}
    try:
        retrying(lambda: _create_missing(admin, specs, timeout_s, replication, created))
    except _Transient as error:
        raise InfraError(str(error)) from error
    if created:
        _wait_for_leaders(admin, {s.name: s.partitions for s in specs if s.name in created}, max(timeout_s, 60.0))
    return created


def _wait_for_leaders(config: dict[str, Any], partitions: dict[str, int], timeout_s: float) -> None:
    """Return once every new topic's partitions have a leader: until then the metadata of a topic
    just created may list no partitions, which consumers take for an empty topic."""
    admin = AdminClient(config)

    def led() -> bool:
        topics = admin.list_topics(timeout=10).topics
        return all(name in topics and len(topics[name].partitions) == count
                   and all(p.leader >= 0 for p in topics[name].partitions.values())
                   for name, count in partitions.items())

    wait_until(led, timeout_s, f"leaders of {len(partitions)} new topics", 0.2)


class _Transient(Exception):
    """A topic creation that failed for a reason that passes once the cluster has settled."""


def _create_missing(config: dict[str, Any], specs: list[TopicSpec], timeout_s: float, replication: int,
                    created: list[str]) -> None:
    """Create what is missing, adding the names created to ``created``."""
    admin = AdminClient(config)
    try:
        existing = set(admin.list_topics(timeout=timeout_s).topics)
    except KafkaException as error:
        raise _Transient(f"listing topics failed: {error}") from error
    missing = [spec for spec in specs if spec.name not in existing]
    if not missing:
        return
    futures = admin.create_topics(
        [NewTopic(s.name, num_partitions=s.partitions, replication_factor=replication,
                  config=replicated(s.config, replication)) for s in missing],
        operation_timeout=timeout_s,
        request_timeout=timeout_s,
    )
    transient = []
    for name, future in futures.items():
        try:
            future.result()
            created.append(name)
        except KafkaException as error:
            if error.args[0].code() == KafkaError.TOPIC_ALREADY_EXISTS:
                continue
            if error.args[0].retriable() or error.args[0].code() in TRANSIENT:
                transient.append(f"{name}: {error}")
                continue
            raise InfraError(f"creating topic {name} failed: {error}") from error
    if transient:  # the next attempt lists what now exists and creates the rest
        raise _Transient(f"creating topics failed: {'; '.join(transient)}")


# Errors a freshly formed cluster answers before its brokers have registered with the controller.
TRANSIENT = {KafkaError._DESTROY_BROKER, KafkaError._TRANSPORT, KafkaError._TIMED_OUT, KafkaError._ALL_BROKERS_DOWN,
             KafkaError.INVALID_REPLICATION_FACTOR, KafkaError.NOT_CONTROLLER, KafkaError.REQUEST_TIMED_OUT,
             KafkaError.BROKER_NOT_AVAILABLE}

"""Every jobstream topic, with its partitions, retention and cleanup policy, created in one place.

The events topic is the source of truth and is kept forever so that any projection can be
rebuilt by replaying it. Commands are requests, kept long enough to replay a crashed processor.
Changelog-style topics (latest value per key) are compacted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from confluent_kafka.admin import AdminClient, NewTopic

from jobstream.infra.process import InfraError

DAY_MS = 24 * 3600 * 1000
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

    def specs(self, partitions: int) -> list[TopicSpec]:
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
            TopicSpec(self.logs, partitions, {"retention.ms": str(7 * DAY_MS), "cleanup.policy": "delete"},
                      "stdout/stderr chunks keyed by execution_id"),
            TopicSpec(self.dead_letters, partitions, {"cleanup.policy": "compact"},
                      "dead-lettered jobs keyed by job_id, latest state per job"),
            TopicSpec(self.templates, partitions, {"cleanup.policy": "compact"},
                      "job templates keyed by name, each value holding every version: the truth of templates"),
            TopicSpec(self.keys, 1, kept_forever,
                      "API keys created and revoked, keyed by key_id: the API folds them, a replay rebuilds them"),
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


def ensure_topics(bootstrap: str, specs: list[TopicSpec], timeout_s: float = 30.0) -> list[str]:
    """Create the missing topics; existing ones are left as they are. Returns the names created."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    existing = set(admin.list_topics(timeout=timeout_s).topics)
    missing = [spec for spec in specs if spec.name not in existing]
    if not missing:
        return []
    futures = admin.create_topics(
        [NewTopic(s.name, num_partitions=s.partitions, replication_factor=1, config=s.config) for s in missing],
        operation_timeout=timeout_s,
        request_timeout=timeout_s,
    )
    created = []
    for name, future in futures.items():
        try:
            future.result()
            created.append(name)
        except Exception as error:  # noqa: BLE001 - re-raised with the topic named
            if "TOPIC_ALREADY_EXISTS" in str(error):
                continue
            raise InfraError(f"creating topic {name} failed: {error}") from error
    return created

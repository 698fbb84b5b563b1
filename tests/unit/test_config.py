"""Settings come from the environment once, name the variable they refuse, and reach children whole."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from jobstream.config import Settings, SettingsError
from jobstream.worker.executors import ExecutorOptions


def test_a_bad_value_is_refused_naming_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOBSTREAM_KAFKA_PORT", "ninety")
    monkeypatch.setenv("JOBSTREAM_AGING_STEP_S", "soon")
    with pytest.raises(SettingsError, match=r"JOBSTREAM_KAFKA_PORT: .*'ninety'.*JOBSTREAM_AGING_STEP_S: .*'soon'"):
        Settings.from_env()


def test_an_empty_variable_means_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOBSTREAM_PARTITIONS", "")
    monkeypatch.setenv("JOBSTREAM_KAFKA_BOOTSTRAP", "")
    settings = Settings.from_env()
    assert settings.partitions == Settings.model_fields["partitions"].default
    assert settings.external_kafka is None


def test_a_child_given_as_env_sees_the_same_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given settings that differ from every default a child could fall back to
    parent = Settings.from_env().with_(
        external_kafka="broker:1", external_database_url="postgresql://db/js", partitions=5,
        worker_python_path=("/a", "/b"), schema_registry_url="http://registry", log_max_bytes=123, aging_step_s=2.5)
    # When a child reads its environment
    for name, value in parent.as_env().items():
        monkeypatch.setenv(name, value)
    # Then it has the parent's settings
    assert Settings.from_env() == parent


def test_the_workers_output_bound_comes_from_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOBSTREAM_LOG_MAX_BYTES", "4096")
    options = ExecutorOptions.from_settings(Settings.from_env(), python_path=("/jobs",))
    assert (options.output.max_bytes, options.python_path) == (4096, ("/jobs",))


def test_log_retention_days_defaults_to_30_and_must_be_positive(monkeypatch: pytest.MonkeyPatch) -> None:
    from jobstream.infra.topics import DAY_MS, Topics
    from jobstream.projections.log_retention import cutoff

    assert Settings.from_env().log_retention_days == 30
    monkeypatch.setenv("JOBSTREAM_LOG_RETENTION_DAYS", "0")
    with pytest.raises(SettingsError, match="JOBSTREAM_LOG_RETENTION_DAYS"):
        Settings.from_env()
    logs = next(spec for spec in Topics("p").specs(3, log_retention_days=2.5) if spec.name == "p.logs")
    assert logs.config["retention.ms"] == str(int(2.5 * DAY_MS))
    now = datetime(2026, 3, 31, tzinfo=UTC)
    assert cutoff(now, 30) == datetime(2026, 3, 1, tzinfo=UTC)


def test_a_cluster_has_a_port_pair_per_node_and_three_replicas() -> None:
    cluster = Settings(kafka_port=19092, kafka_controller_port=19093, kafka_brokers=3)
    assert cluster.kafka_node_ports == [(19092, 19093), (19094, 19095), (19096, 19097)]
    assert cluster.kafka_bootstrap == "127.0.0.1:19092,127.0.0.1:19094,127.0.0.1:19096"
    assert cluster.replication_factor == 3
    assert Settings(kafka_brokers=5).replication_factor == 3
    assert Settings().replication_factor == 1 and Settings().kafka_bootstrap == "127.0.0.1:9092"


def test_a_replicated_topic_acknowledges_at_two_replicas_and_never_elects_a_stale_one() -> None:
    from jobstream.infra.topics import replicated

    assert replicated({"cleanup.policy": "compact"}, 1) == {"cleanup.policy": "compact"}
    assert replicated({"cleanup.policy": "compact"}, 3) == {
        "cleanup.policy": "compact", "min.insync.replicas": "2", "unclean.leader.election.enable": "false"}

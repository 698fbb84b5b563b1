"""The 3-node cluster's configuration: one quorum, one cluster id, internal topics replicated."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from jobstream.config import Settings
from jobstream.infra.kafka import LocalKafka, request_thread_lines
from jobstream.infra.kafka_cluster import LocalKafkaCluster
from jobstream.infra.stack import Infra, local_cluster_size


def _properties(node: LocalKafka) -> dict[str, str]:
    node.home.mkdir(parents=True, exist_ok=True)
    lines = node._write_config().read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line)


def test_each_node_joins_one_quorum_with_replicated_internal_topics(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path, kafka_port=19092, kafka_controller_port=19093, kafka_brokers=3)
    cluster = Infra(settings).kafka
    assert isinstance(cluster, LocalKafkaCluster)
    configs = [_properties(node) for node in cluster.nodes]
    assert [c["node.id"] for c in configs] == ["1", "2", "3"]
    assert {c["controller.quorum.voters"] for c in configs} == {
        "1@127.0.0.1:19093,2@127.0.0.1:19095,3@127.0.0.1:19097"}
    assert [c["listeners"].split(",")[0] for c in configs] == [
        "PLAINTEXT://127.0.0.1:19092", "PLAINTEXT://127.0.0.1:19094", "PLAINTEXT://127.0.0.1:19096"]
    for config in configs:
        assert (config["offsets.topic.replication.factor"], config["transaction.state.log.replication.factor"],
                config["transaction.state.log.min.isr"], config["min.insync.replicas"],
                config["unclean.leader.election.enable"]) == ("3", "3", "2", "2", "false")
    assert len({node.cluster_id for node in cluster.nodes}) == 1  # one id, kept in the cluster's home
    assert cluster.bootstrap == settings.kafka_bootstrap
    # and `infra status` / `down` without --brokers find the cluster the state directory holds
    assert local_cluster_size(settings.with_(kafka_brokers=1)) == 3


def test_one_broker_stays_the_default_with_unreplicated_internal_topics(tmp_path: Path) -> None:
    broker = Infra(Settings(state_dir=tmp_path)).kafka
    assert isinstance(broker, LocalKafka)
    config = _properties(broker)
    assert (config["node.id"], config["offsets.topic.replication.factor"], config["min.insync.replicas"]) == (
        "1", "1", "1")
    assert local_cluster_size(Settings(state_dir=tmp_path)) is None


def test_request_threads_follow_the_machines_cores(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    broker = Infra(Settings(state_dir=tmp_path)).kafka
    assert isinstance(broker, LocalKafka)
    config = _properties(broker)
    assert (config["num.network.threads"], config["num.io.threads"]) == ("4", "8")
    assert request_thread_lines(2) == ["num.network.threads=1", "num.io.threads=2"]
    assert request_thread_lines(1) == ["num.network.threads=1", "num.io.threads=2"]

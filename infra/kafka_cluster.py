"""A local Kafka cluster: N KRaft nodes on loopback, each broker and controller in one JVM, from the
same jars as the single broker (``LocalKafka``): one cluster id, a data directory per node.

Internal topics (consumer offsets, transaction state) get min(N, 3) replicas, 2 of them in sync
to acknowledge a write, and unclean leader election is off: a node killed with SIGKILL loses
nothing that was acknowledged.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from jobstream.infra.kafka import READY_TIMEOUT_S, LocalKafka, new_cluster_id
from jobstream.infra.process import InfraError, wait_until


@dataclass(frozen=True)
class LocalKafkaCluster:
    """The cluster's files live in ``home`` (``node-<id>`` per node, the cluster id in ``cluster.id``)."""

    home: Path
    cache_dir: Path
    version: str
    ports: tuple[tuple[int, int], ...]  # each node's (broker port, controller port)
    heap: str = "512m"

    @property
    def nodes(self) -> list[LocalKafka]:
        voters = ",".join(f"{n}@127.0.0.1:{controller}" for n, (_, controller) in enumerate(self.ports, 1))
        return [LocalKafka(self.home / f"node-{n}", self.cache_dir, self.version, port, controller, self.heap,
                           node_id=n, voters=voters, replication=min(len(self.ports), 3),
                           cluster_id=self._cluster_id())
                for n, (port, controller) in enumerate(self.ports, 1)]

    def node(self, node_id: int) -> LocalKafka:
        return self.nodes[node_id - 1]

    @property
    def bootstrap(self) -> str:
        return ",".join(node.bootstrap for node in self.nodes)

    @property
    def libs(self) -> Path:
        return self.nodes[0].libs

    def ensure_jars(self) -> None:
        self.nodes[0].ensure_jars()

    def _cluster_id(self) -> str:
        """One id for every node's storage, chosen at the cluster's first start."""
        path = self.home / "cluster.id"
        if not path.exists():
            self.home.mkdir(parents=True, exist_ok=True)
            path.write_text(new_cluster_id())
        return path.read_text().strip()

    def running_pid(self) -> int | None:
        """The first node's pid (what a single broker's callers look at)."""
        return self.nodes[0].running_pid()

    def up(self) -> str:
        """Start every node that is not running, then wait until all have joined the cluster."""
        self.ensure_jars()
        started: list[tuple[LocalKafka, subprocess.Popen[bytes]]] = []
        for node in self.nodes:
            if node.running_pid() is None:
                started.append((node, node.start()))  # all before waiting: a quorum needs a majority
        for node, process in started:
            node.wait_ready(process.pid, process)
        self.wait_formed()
        return (f"kafka cluster of {len(self.ports)} nodes at {self.bootstrap} "
                f"({len(started)} started, {len(self.ports) - len(started)} already running)")

    def restart_node(self, node_id: int) -> None:
        """Start one node again (after it was killed) and wait until it has rejoined."""
        node = self.node(node_id)
        process = node.start()
        node.wait_ready(process.pid, process)
        self.wait_formed()

    def wait_formed(self, timeout_s: float = READY_TIMEOUT_S) -> None:
        """Wait until the metadata lists every node as a broker."""
        wait_until(lambda: len(registered_brokers(self.bootstrap)) == len(self.ports), timeout_s,
                   f"all {len(self.ports)} Kafka nodes to register (logs: {self.home}/node-*/logs)", 0.25)

    def down(self) -> str:
        lines = [f"node {node.node_id}: {node.down()}" for node in self.nodes]
        return "\n".join(lines)

    def status(self) -> str:
        """A line per node, then the partitions with fewer in-sync replicas than replicas."""
        lines = [f"node {node.node_id}: {node.status()}" for node in self.nodes]
        if any(node.running_pid() is not None for node in self.nodes):
            lagging = under_replicated(self.bootstrap)
            lines.append(f"under-replicated partitions: {len(lagging)}" +
                         "".join(f"\n  {p}" for p in lagging[:20]) + ("\n  ..." if len(lagging) > 20 else ""))
        return "\n".join(lines)


def registered_brokers(bootstrap: str) -> set[int]:
    from confluent_kafka.admin import AdminClient

    try:
        return set(AdminClient({"bootstrap.servers": bootstrap, "log_level": 0}).list_topics(timeout=5).brokers)
    except Exception:  # noqa: BLE001 - not answering yet counts as none registered
        return set()


def under_replicated(bootstrap: str) -> list[str]:
    """``topic[partition] leader=.. isr=[..] replicas=[..]`` for each partition missing an in-sync
    replica, or with a replica on a node that is down (before the ISR shrinks, ~10-30 s later)."""
    from confluent_kafka.admin import AdminClient

    try:
        metadata = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0}).list_topics(timeout=10)
    except Exception as error:  # noqa: BLE001 - a status line, not a crash
        raise InfraError(f"the cluster's metadata did not answer: {error}") from error
    live = set(metadata.brokers)
    return [f"{name}[{p.id}] leader={p.leader} isr={sorted(p.isrs)} replicas={sorted(p.replicas)}"
            for name, topic in sorted(metadata.topics.items())
            for p in sorted(topic.partitions.values(), key=lambda p: p.id)
            if len(p.isrs) < len(p.replicas) or not set(p.replicas) <= live]

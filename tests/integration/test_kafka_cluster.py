"""On the 3-node cluster: a node killed with SIGKILL while jobs run loses none of them, and the
cluster heals when it returns. Engine processes may exit when a transaction's coordinator dies
(a fatal producer error): they run under `jobstream run`'s restart policy, as in production."""

from __future__ import annotations

import os
import signal
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path

from confluent_kafka.admin import AdminClient, PartitionMetadata

from jobstream.clock import new_job_id
from jobstream.config import Settings
from jobstream.infra.kafka_cluster import LocalKafkaCluster, under_replicated
from jobstream.infra.process import wait_until
from jobstream.infra.topics import Topics, ensure_topics
from jobstream.keys_admin import publish_acknowledged
from jobstream.schemas import JobCompleted, JobSpec, PythonTask, QuotaSet, SubmitJob
from jobstream.streams.kafka_io import Publisher, command_envelope, ensure_specs
from jobstream.supervisor import supervised
from tests.integration.harness import TopicReader

JOBS = 400
NOOP = PythonTask(entrypoint="builtins:len", args_json="[[]]", isolation="inline")
STACK = [(f"{name}-{n}", [name, "--instance-id", f"{name}-{n}"])
         for name in ("state-processor", "dispatcher", "worker-monitor") for n in (1, 2)]
STACK += [("timers", ["timer-processor", "--instance-id", "timers-1"]), ("worker", ["worker", "--slots", "8"])]


def _completed(records: list[object]) -> set[str]:
    return {r.envelope.job_id for r in records if isinstance(r, JobCompleted)}


def _described_partitions(bootstrap: str, topic: str, count: int) -> dict[int, PartitionMetadata]:
    """A new topic's metadata may list only some partitions, or none with a leader yet, for a moment."""
    admin = AdminClient({"bootstrap.servers": bootstrap})

    def described() -> dict[int, PartitionMetadata]:
        return admin.list_topics(topic, timeout=10).topics[topic].partitions

    wait_until(lambda: len(ready := described()) == count and all(p.leader >= 0 for p in ready.values()),
               60, f"{count} partitions of {topic} with a leader")
    return described()


def test_a_node_killed_while_jobs_run_loses_none(cluster_settings: Settings, kafka_cluster: LocalKafkaCluster,
                                                tmp_path: Path) -> None:
    # Given every topic replicated 3 times, two instances of each processor and a worker
    topics = Topics(cluster_settings.topic_prefix)
    ensure_topics(cluster_settings.kafka_bootstrap, topics.specs(cluster_settings.partitions), replication=3)
    partitions = _described_partitions(kafka_cluster.bootstrap, topics.events, cluster_settings.partitions)
    assert all(len(p.replicas) == 3 for p in partitions.values())
    victim = partitions[0].leader  # it leads some of the jobs' events
    publisher = Publisher(cluster_settings)
    reader = TopicReader(cluster_settings, topics.events)
    with (tmp_path / "stack.log").open("w") as log, supervised(cluster_settings, STACK, log):
        job_ids = [new_job_id() for _ in range(JOBS)]
        for n, job_id in enumerate(job_ids):
            spec = JobSpec(name=f"burst-{n}", task=NOOP)
            publisher.send_command(SubmitJob(envelope=command_envelope(SubmitJob, job_id, "test"), spec=spec))
            publisher.poll(0)
        publisher.flush()
        reader.wait_for(lambda records: len(_completed(records)) >= JOBS // 4, 240, "a quarter of the jobs")

        # When the node leading a partition of the events is killed with SIGKILL mid-burst
        pid = kafka_cluster.node(victim).running_pid()
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        done_at_kill = len(_completed(reader.records))
        assert done_at_kill < JOBS, "the kill came after the burst: nothing was tested"
        reader.wait_for(lambda records: len(_completed(records)) > done_at_kill + 20, 120,
                        "jobs to complete on the two remaining nodes")
        kafka_cluster.restart_node(victim)
        reader.wait_for(lambda records: _completed(records) >= set(job_ids), 240, "every job to complete")
        reader.drain(quiet_s=2.0)

    # Then each job completed once, its events gapless, and the cluster is whole again
    completions = Counter(r.envelope.job_id for r in reader.records if isinstance(r, JobCompleted))
    assert all(completions[job_id] == 1 for job_id in job_ids), completions.most_common(3)
    seqs: dict[str, list[int]] = defaultdict(list)
    for record in reader.records:
        seqs[record.envelope.job_id].append(record.envelope.seq)
    gapped = [j for j in job_ids if seqs[j] != list(range(1, len(seqs[j]) + 1))]
    assert not gapped, [(j, seqs[j]) for j in gapped[:3]]
    wait_until(lambda: not under_replicated(kafka_cluster.bootstrap), 120, "the restarted node to catch up")
    reader.close()


def test_topics_made_outside_infra_up_get_the_clusters_replicas_too(cluster_settings: Settings,
                                                                     kafka_cluster: LocalKafkaCluster) -> None:
    # Given the cluster, when the keys topic is made by a command's first write (as `jobstream keys
    # create` or `quotas set` may) and the analytics topics by their projector's start
    topics = Topics(cluster_settings.topic_prefix)
    quota = QuotaSet(namespace="acme", submit_rate=1.0, set_at=datetime.now(UTC), actor="cli:test")
    publish_acknowledged(cluster_settings, topics.keys, [("acme", quota)])
    analytics = topics.analytics_specs(cluster_settings.partitions)
    ensure_specs(cluster_settings, analytics)
    # Then each has as many replicas as the topics `infra up` makes
    for topic, count in [(topics.keys, 1), *((spec.name, spec.partitions) for spec in analytics)]:
        partitions = _described_partitions(kafka_cluster.bootstrap, topic, count)
        assert all(len(p.replicas) == 3 for p in partitions.values()), topic

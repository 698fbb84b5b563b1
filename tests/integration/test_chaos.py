"""`bench chaos` in short: a mixed load on the 3-node cluster, two instances of every processor,
and a broker node, Postgres, a worker and a processor killed with SIGKILL (then one at random
every few seconds): no job lost, no duplicate, no gap, no fenced write, the read model equal to a
replay."""

from __future__ import annotations

import json

import pytest

from jobstream.bench_chaos import run_chaos
from jobstream.chaos_plan import kind_of
from jobstream.config import Settings
from jobstream.infra.kafka_cluster import LocalKafkaCluster
from jobstream.infra.postgres import LocalPostgres


@pytest.mark.timeout(900)
def test_a_short_chaos_run_loses_and_duplicates_nothing(infra_settings: Settings, kafka_cluster: LocalKafkaCluster,
                                                        local_postgres: LocalPostgres | None) -> None:
    result = run_chaos(infra_settings.with_(partitions=3), kafka_cluster, local_postgres, jobs=150, duration_s=40,
                       every_s=6, seed=5, quiesce_timeout_s=420)
    print(json.dumps(result, indent=2, default=str))
    killed = {kind_of(kill["target"]) for kill in result["kills"] if "pid" in kill}
    assert killed >= {"broker", "worker", "processor"} | ({"postgres"} if local_postgres else set())
    assert result["jobs"] >= 150 and result["events"] > 0
    assert result["quiesced"] and result["violations"] == 0, result["examples"]

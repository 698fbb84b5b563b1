"""`jobstream kafka TOOL` runs Kafka's own tools against the configured broker: they see jobstream's
topics and its processors' consumer groups."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from jobstream.bench_cleanup import admin_client, find, of_run
from jobstream.config import Settings
from jobstream.infra.topics import Topics
from tests.integration.harness import ServiceProcess

JOIN_TIMEOUT_S = 120.0  # a faust processor starting and joining its group, on a busy 2-core machine
TOOL_TIMEOUT_S = 120.0  # a JVM starting, on the same machine


def kafka_tool(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "jobstream", "kafka", *args], env={**os.environ, **settings.as_env()},
                          capture_output=True, text=True, timeout=TOOL_TIMEOUT_S)


def test_kafka_tools_list_jobstreams_topics_and_groups(test_settings: Settings, topics_ready: Topics,
                                                       services: dict[str, ServiceProcess], tmp_path: Path) -> None:
    # Given jobstream's topics and a running state processor, joined to its consumer group
    group = topics_ready.state_processor_app
    services["state-processor"] = ServiceProcess("state-processor", ["state-processor"], test_settings,
                                                 tmp_path).start()
    admin, deadline = admin_client(test_settings.kafka_bootstrap), time.monotonic() + JOIN_TIMEOUT_S
    while group not in find(admin, of_run(topics_ready.prefix)).groups:
        assert time.monotonic() < deadline, f"{group} never joined:\n{services['state-processor'].log_tail()}"
        time.sleep(0.2)  # polling interval of a deadline-bounded wait

    # When Kafka's tools list topics and groups
    topics = kafka_tool(test_settings, "topics", "--list")
    groups = kafka_tool(test_settings, "consumer-groups", "--list")
    described = kafka_tool(test_settings, "consumer-groups", "--describe", "--group", group)

    # Then they find them, and the group's lag per partition of the commands topic
    assert topics.returncode == 0, topics.stderr
    assert {spec.name for spec in topics_ready.specs(test_settings.partitions)} <= set(topics.stdout.split())
    assert groups.returncode == 0, groups.stderr
    assert group in groups.stdout.split()
    assert described.returncode == 0, described.stderr
    assert "LAG" in described.stdout and topics_ready.commands in described.stdout.split()


def test_kafka_help_lists_the_tools_and_a_tool_fails_as_itself(test_settings: Settings) -> None:
    listing = kafka_tool(test_settings, "--help")
    assert listing.returncode == 0
    assert all(name in listing.stdout for name in ("topics", "consumer-groups", "configs", "reassign-partitions"))
    missing = kafka_tool(test_settings, "topics", "--describe", "--topic", f"{test_settings.topic_prefix}.nothing")
    assert missing.returncode != 0 and "does not exist" in missing.stdout + missing.stderr

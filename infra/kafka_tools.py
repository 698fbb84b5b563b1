"""Kafka's own operator tools (``kafka-topics.sh``, ``kafka-consumer-groups.sh``, ...) without
Kafka's scripts: each is a main class on the broker's classpath, run the way ``kafka-run-class.sh``
runs it, against the configured bootstrap servers unless the arguments name others.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

LOG4J = Path(__file__).parent / "kafka" / "tools-log4j.properties"
BOOTSTRAP_OPTIONS = ("--bootstrap-server", "--bootstrap-controller")


@dataclass(frozen=True)
class Tool:
    name: str  # `jobstream kafka NAME` runs what bin/kafka-NAME.sh runs
    main_class: str
    summary: str


# The main classes are those of Kafka 3.9's bin/kafka-*.sh (some moved from core to tools in 3.x).
TOOLS: tuple[Tool, ...] = (
    Tool("topics", "org.apache.kafka.tools.TopicCommand",
         "list, describe, create, alter and delete topics"),
    Tool("consumer-groups", "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
         "list and describe consumer groups (lag per partition), reset their offsets, delete them"),
    Tool("configs", "kafka.admin.ConfigCommand",
         "describe and alter topic, broker, client and group configs"),
    Tool("reassign-partitions", "org.apache.kafka.tools.reassign.ReassignPartitionsCommand",
         "move partition replicas between brokers"),
    Tool("log-dirs", "org.apache.kafka.tools.LogDirsCommand",
         "bytes on disk per partition and log directory"),
    Tool("get-offsets", "org.apache.kafka.tools.GetOffsetShell",
         "earliest, latest or by-time offsets of partitions"),
    Tool("console-consumer", "org.apache.kafka.tools.consumer.ConsoleConsumer",
         "print a topic's messages"),
    Tool("console-producer", "kafka.tools.ConsoleProducer",
         "produce lines of stdin to a topic"),
    Tool("delete-records", "org.apache.kafka.tools.DeleteRecordsCommand",
         "delete a partition's records before an offset"),
    Tool("leader-election", "org.apache.kafka.tools.LeaderElectionCommand",
         "elect partition leaders (preferred or unclean)"),
    Tool("transactions", "org.apache.kafka.tools.TransactionsCommand",
         "list, describe and abort transactions"),
    Tool("acls", "kafka.admin.AclCommand", "list, add and remove ACLs"),
    Tool("metadata-quorum", "org.apache.kafka.tools.MetadataQuorumCommand",
         "the KRaft controller quorum's status and replication"),
    Tool("features", "org.apache.kafka.tools.FeatureCommand", "describe and upgrade cluster feature levels"),
    Tool("broker-api-versions", "kafka.admin.BrokerApiVersionsCommand",
         "the API versions each broker supports"),
)


def find_tool(name: str) -> Tool | None:
    return next((tool for tool in TOOLS if tool.name == name), None)


def with_bootstrap(args: list[str], bootstrap: str) -> list[str]:
    """``args`` with ``--bootstrap-server`` added, unless they name a server or controller already."""
    if any(arg == option or arg.startswith(f"{option}=") for arg in args for option in BOOTSTRAP_OPTIONS):
        return list(args)
    return ["--bootstrap-server", bootstrap, *args]


def tool_command(tool: Tool, libs: Path, args: list[str], bootstrap: str) -> list[str]:
    """The java command line of ``tool`` (heap and logging as kafka-run-class.sh sets them for tools)."""
    return [
        "java",
        "-Xmx256m",
        "-XX:+UseSerialGC",  # a short-lived client: G1's threads only compete for the cores
        "-Djava.awt.headless=true",
        f"-Dlog4j.configuration=file:{LOG4J}",
        "-cp",
        f"{libs}/*",
        tool.main_class,
        *with_bootstrap(args, bootstrap),
    ]

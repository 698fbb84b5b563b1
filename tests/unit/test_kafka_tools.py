"""`jobstream kafka TOOL`: the configured broker unless the arguments name one; the 3.9 main classes."""

from pathlib import Path

from jobstream.infra.kafka_tools import TOOLS, find_tool, tool_command, with_bootstrap


def test_the_configured_bootstrap_servers_are_added_unless_given() -> None:
    assert with_bootstrap(["--list"], "h:1") == ["--bootstrap-server", "h:1", "--list"]
    assert with_bootstrap(["--list", "--bootstrap-server", "o:2"], "h:1") == ["--list", "--bootstrap-server", "o:2"]
    assert with_bootstrap(["--bootstrap-server=o:2", "--list"], "h:1") == ["--bootstrap-server=o:2", "--list"]
    assert with_bootstrap(["--bootstrap-controller", "c:3", "describe"], "h:1")[:2] == ["--bootstrap-controller", "c:3"]


def test_the_tool_runs_its_main_class_from_the_broker_classpath_with_the_arguments_last() -> None:
    tool = find_tool("consumer-groups")
    assert tool is not None
    command = tool_command(tool, Path("/cache/libs"), ["--describe", "--all-groups"], "h:1")
    assert command[0] == "java" and "/cache/libs/*" in command
    assert command[-5:] == ["org.apache.kafka.tools.consumer.group.ConsumerGroupCommand", "--bootstrap-server",
                            "h:1", "--describe", "--all-groups"]


def test_the_operator_tools_of_the_issue_are_there_once_each() -> None:
    names = [tool.name for tool in TOOLS]
    assert len(names) == len(set(names))
    assert {"topics", "consumer-groups", "configs", "reassign-partitions"} <= set(names)
    assert find_tool("topics").main_class == "org.apache.kafka.tools.TopicCommand"  # type: ignore[union-attr]
    assert find_tool("no-such-tool") is None

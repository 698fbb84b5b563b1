"""The secure broker's ACLs: who writes events, and the table docs/security.md shows."""

from __future__ import annotations

from pathlib import Path

from confluent_kafka.admin import AclOperation, ResourceType

from jobstream.infra.kafka_acls import every_grant, role_grants, topic_table
from jobstream.infra.topics import Topics

DOC = Path(__file__).parents[2] / "docs" / "security.md"


def writers(topics: Topics, topic: str) -> set[str]:
    return {role for role, grants in every_grant(topics).items() for g in grants
            if g.resource == ResourceType.TOPIC and g.operation in (AclOperation.WRITE, AclOperation.ALL)
            and (g.name == topic or (g.prefixed and topic.startswith(g.name)))}


def test_only_the_state_processor_writes_events() -> None:
    topics = Topics("acme")
    assert writers(topics, topics.events) == {"state-processor"}


def test_clients_write_commands_only() -> None:
    grants = role_grants(Topics())["client"]
    assert [(g.resource, g.name, g.operation) for g in grants] == [
        (ResourceType.TOPIC, Topics().commands, AclOperation.WRITE)]


def test_the_documented_table_is_the_acls() -> None:
    assert topic_table(Topics()) in DOC.read_text()

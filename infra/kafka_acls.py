"""What each role may do on the secure broker: its topics, consumer groups and transactional ids.

Only the state processor writes the events topic. Clients write commands only; workers their
reports (commands), heartbeats (the workers topic), credits (dispatch) and output (logs). Every
other write is refused (``allow.everyone.if.no.acl.found=false``). docs/security.md shows the table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from confluent_kafka.admin import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
)

from jobstream.infra.kafka_users import principal
from jobstream.infra.process import wait_until
from jobstream.infra.topics import Topics


@dataclass(frozen=True)
class Grant:
    resource: ResourceType
    name: str
    operation: AclOperation
    prefixed: bool = False

    def binding(self, role: str) -> AclBinding:
        pattern = ResourcePatternType.PREFIXED if self.prefixed else ResourcePatternType.LITERAL
        return AclBinding(self.resource, self.name, pattern, principal(role), "*", self.operation,
                          AclPermissionType.ALLOW)


def reads(*topics: str) -> list[Grant]:
    return [Grant(ResourceType.TOPIC, t, AclOperation.READ) for t in topics]


def writes(*topics: str) -> list[Grant]:
    return [Grant(ResourceType.TOPIC, t, AclOperation.WRITE) for t in topics]


def groups(*prefixes: str) -> list[Grant]:
    """Consumer groups by prefix: a process also names throwaway groups (``end-offsets-<random>``)."""
    return [Grant(ResourceType.GROUP, g, AclOperation.READ, prefixed=True) for g in prefixes]


def transactions(prefix: str) -> list[Grant]:
    return [Grant(ResourceType.TRANSACTIONAL_ID, prefix, op, prefixed=True)
            for op in (AclOperation.WRITE, AclOperation.DESCRIBE)]


def role_grants(t: Topics) -> dict[str, list[Grant]]:
    """Each role's grants, from the topics each process reads and writes (streams/, worker/, api/)."""
    sp, disp, tim, mon = (t.state_processor_changelog, t.dispatcher_changelog, t.changelog(t.timer_app, "timers"),
                          t.worker_monitor_changelog)
    throwaway = ("end-offsets-", "state-bootstrap-")
    return {
        "state-processor": [*reads(t.commands, t.events, t.keys, sp),
                            *writes(t.events, t.commands, t.timer_requests, t.dispatch, t.assignments,
                                    t.dead_letters, t.poison, sp),
                            *groups(t.state_processor_app, "state-processor-rules-", *throwaway),
                            *transactions(t.state_processor_app)],
        "dispatcher": [*reads(t.dispatch, t.workers, t.keys, disp), *writes(t.assignments, t.poison, disp),
                       *groups(t.dispatcher_app, "dispatcher-", *throwaway), *transactions(t.dispatcher_app)],
        "timers": [*reads(t.timer_requests, tim), *writes(t.commands, t.poison, tim), *groups(t.timer_app),
                   # faust creates its table's changelog at every start (an existing one is left as it is)
                   Grant(ResourceType.TOPIC, tim, AclOperation.CREATE)],
        "worker-monitor": [*reads(t.workers, t.assignments, mon), *writes(t.workers, t.commands, t.poison, mon),
                           *groups(t.worker_monitor_app, *throwaway), *transactions(t.worker_monitor_app)],
        "projector": [*reads(t.events, t.workers, t.commands, t.templates, t.audit, t.logs, t.poison,
                             t.command_results),
                      *writes(t.command_results, t.poison),
                      Grant(ResourceType.TOPIC, t.analytics_app, AclOperation.ALL, prefixed=True),
                      Grant(ResourceType.TOPIC, t.logs, AclOperation.ALTER_CONFIGS),
                      Grant(ResourceType.TOPIC, t.logs, AclOperation.DESCRIBE_CONFIGS),
                      *groups(t.projector_group, t.logs_projector_group, t.analytics_app, *throwaway),
                      *transactions(t.analytics_app)],
        "api": [*reads(t.keys, t.secrets), *writes(t.commands, t.workers, t.audit, t.templates, t.keys, t.secrets),
                *groups("jobstream-", *throwaway),  # the keyring's
                # the dashboard's consumer lag: the processors' committed offsets
                Grant(ResourceType.GROUP, f"{t.prefix}.", AclOperation.DESCRIBE, prefixed=True),
                *transactions(f"{t.prefix}.api.")],
        "client": [*writes(t.commands)],
        "worker": [*reads(t.assignments, t.workers), *writes(t.commands, t.workers, t.dispatch, t.logs),
                   *groups("worker-")],
    }


def every_grant(t: Topics) -> dict[str, list[Grant]]:
    """Each role's grants, and for every role the sight (DESCRIBE) of every topic: a process checks
    at start that all exist (ensure_all_topics), and a topic it cannot see it would try to create."""
    seen = Grant(ResourceType.TOPIC, f"{t.prefix}.", AclOperation.DESCRIBE, prefixed=True)
    return {role: [*grants, seen] for role, grants in role_grants(t).items()}


def apply_acls(admin_config: dict[str, Any], topics: Topics, timeout_s: float = 30.0) -> int:
    """Create every role's ACLs (creating one that exists changes nothing) and wait until the broker
    enforces them; how many there are."""
    bindings = [grant.binding(role) for role, grants in every_grant(topics).items() for grant in grants]
    admin = AdminClient(admin_config)  # kept until the answers are in: its destruction fails them
    for future in admin.create_acls(bindings, request_timeout=timeout_s).values():
        future.result()
    # The controller answers once the ACLs are committed; the broker applies them when its copy of
    # the metadata catches up, and answers DescribeAcls from that copy.
    wanted = set(bindings)
    wait_until(lambda: wanted <= set(_described(admin, timeout_s)), timeout_s, f"{len(bindings)} ACLs applied", 0.1)
    return len(bindings)


def _described(admin: AdminClient, timeout_s: float) -> list[AclBinding]:
    # None matches any name, principal and host (confluent-kafka's stubs declare str only)
    every = AclBindingFilter(ResourceType.ANY, None, ResourcePatternType.ANY, None, None,  # type: ignore[arg-type]
                             AclOperation.ANY, AclPermissionType.ANY)
    return list(admin.describe_acls(every, request_timeout=timeout_s).result())


def topic_table(t: Topics) -> str:
    """The role x topic table of docs/security.md (a unit test keeps the page in step): r read,
    w write, rw both, * every operation (the topics the role creates); prefixed names end in ``*``."""
    grants = role_grants(t)
    names = list(dict.fromkeys(g.name for gs in grants.values() for g in gs if g.resource == ResourceType.TOPIC))
    rows = ["| topic | " + " | ".join(grants) + " |", "|---|" + "---|" * len(grants)]
    for name in names:
        shown = name.removeprefix(f"{t.prefix}.") + ("*" if name.endswith(".") or _prefixed(grants, name) else "")
        rows.append(f"| `{shown}` | " + " | ".join(_cell(gs, name) for gs in grants.values()) + " |")
    return "\n".join(rows)


def _prefixed(grants: dict[str, list[Grant]], name: str) -> bool:
    return any(g.prefixed for gs in grants.values() for g in gs if g.name == name)


def _cell(grants: list[Grant], name: str) -> str:
    ops = {g.operation for g in grants if g.resource == ResourceType.TOPIC and g.name == name}
    if AclOperation.ALL in ops:
        return "*"
    return ("r" if AclOperation.READ in ops else "") + ("w" if AclOperation.WRITE in ops else "")

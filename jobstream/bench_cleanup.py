"""What benchmarks leave on the broker, found by topic prefix and deleted.

Every bench runs under a prefix of its own, ``bench-<kind>-<8 hex>``; its topics are
``<prefix>.<name>`` and so are its consumer groups (the processors' faust apps are named
``<prefix>.<processor>``, the bench's readers ``<prefix>.<reader>-<hex>``). A group is deleted
before the topics it read, and only once it has no members: the broker refuses otherwise.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from confluent_kafka import ConsumerGroupState, KafkaError, KafkaException
from confluent_kafka.admin import AdminClient

# Also what runs left before groups carried the prefix (``bench-1a2b3c4d``), and the projector
# bench's ``<prefix>-bench-<hex>``.
BENCH_PREFIX = re.compile(r"^(?:.+-)?bench-(?:[a-z0-9]+-)*[0-9a-f]{8}$")
ADMIN_TIMEOUT_S = 30.0
POLL_S = 0.25  # the interval of deadline-bounded waits on the broker

Matcher = Callable[[str], bool]


def new_prefix(kind: str) -> str:
    return f"bench-{kind}-{uuid.uuid4().hex[:8]}"


def prefix_of(name: str) -> str:
    return name.split(".", 1)[0]


def of_run(prefix: str) -> Matcher:
    """Names under one run's prefix."""
    return lambda name: name == prefix or name.startswith(f"{prefix}.")


def of_any_bench(name: str) -> bool:
    """Names under a prefix that only benches make."""
    return BENCH_PREFIX.match(prefix_of(name)) is not None


@dataclass(frozen=True)
class Leftovers:
    topics: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    busy_groups: list[str] = field(default_factory=list)  # with members still joined

    def __bool__(self) -> bool:
        return bool(self.topics or self.groups)


@dataclass(frozen=True)
class Removal:
    removed: Leftovers
    left: Leftovers


def admin_client(bootstrap: str) -> AdminClient:
    return AdminClient({"bootstrap.servers": bootstrap, "log_level": 3})


def find(admin: AdminClient, matches: Matcher) -> Leftovers:
    """The topics and consumer groups whose names ``matches``."""
    topics = sorted(name for name in admin.list_topics(timeout=ADMIN_TIMEOUT_S).topics if matches(name))
    listing = admin.list_consumer_groups(request_timeout=ADMIN_TIMEOUT_S).result()
    groups = [g for g in listing.valid if matches(g.group_id)]
    idle = {ConsumerGroupState.EMPTY, ConsumerGroupState.DEAD}
    busy = sorted(g.group_id for g in groups if getattr(g, "state", None) not in idle)
    return Leftovers(topics, sorted(g.group_id for g in groups), busy)


def remove(bootstrap: str, matches: Matcher, members_grace_s: float = 60.0) -> Removal:
    """Delete the groups, then the topics, whose names ``matches``; a group's last members get
    ``members_grace_s`` to leave (a killed consumer's session has to expire). Returns what was
    removed and what is still there."""
    admin = admin_client(bootstrap)
    found = find(admin, matches)
    groups_left = delete_groups(admin, found.groups, time.monotonic() + members_grace_s)
    topics_left = delete_topics(admin, found.topics, time.monotonic() + ADMIN_TIMEOUT_S)
    removed = Leftovers([t for t in found.topics if t not in topics_left],
                        [g for g in found.groups if g not in groups_left])
    return Removal(removed, Leftovers(topics_left, groups_left))


def delete_groups(admin: AdminClient, groups: list[str], deadline: float) -> list[str]:
    """Delete ``groups``, retrying those with members until ``deadline``; returns those left."""
    pending = list(groups)
    while pending:
        futures = admin.delete_consumer_groups(pending, request_timeout=ADMIN_TIMEOUT_S)
        pending = [group for group, future in futures.items() if not _group_gone(future.exception())]
        if not pending or time.monotonic() >= deadline:
            break
        time.sleep(POLL_S)
    return pending


def _group_gone(error: BaseException | None) -> bool:
    if error is None:
        return True
    code = _error_code(error)
    if code == KafkaError.GROUP_ID_NOT_FOUND:
        return True
    if code == KafkaError.NON_EMPTY_GROUP:
        return False
    raise error


def delete_topics(admin: AdminClient, topics: list[str], deadline: float) -> list[str]:
    """Delete ``topics`` and wait until the broker no longer lists them; returns those left."""
    if not topics:
        return []
    futures = admin.delete_topics(topics, operation_timeout=ADMIN_TIMEOUT_S, request_timeout=ADMIN_TIMEOUT_S)
    for future in futures.values():
        error = future.exception()
        if error is not None and _error_code(error) != KafkaError.UNKNOWN_TOPIC_OR_PART:
            raise error
    while True:  # deletion is asynchronous: the run is clean once the listing says so
        listed = set(admin.list_topics(timeout=ADMIN_TIMEOUT_S).topics)
        left = [topic for topic in topics if topic in listed]
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(POLL_S)


def _error_code(error: BaseException) -> int | None:
    if isinstance(error, KafkaException) and error.args and isinstance(error.args[0], KafkaError):
        return int(error.args[0].code())
    return None


def clean(bootstrap: str, prefix: str | None = None) -> tuple[Removal, list[str]]:
    """What earlier bench runs left: all of it, or one run's (``prefix``). A prefix whose groups
    still have members is a bench that runs: skipped. Returns the removal and the skipped prefixes."""
    matches = of_run(prefix) if prefix else of_any_bench
    found = find(admin_client(bootstrap), matches)
    running = sorted({prefix_of(group) for group in found.busy_groups})
    return remove(bootstrap, lambda name: matches(name) and prefix_of(name) not in running, 0.0), running

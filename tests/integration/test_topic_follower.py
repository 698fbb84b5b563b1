"""The API's topic follower (keyring, vault) on a real broker: once ``wait_caught_up`` returns, every
record another process wrote before the call has been folded, which a reveal relies on after a KEK
rotation (its rewrapped data keys come a moment before the old KEK leaves the file)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from jobstream.api.topic_follower import TopicFollower
from jobstream.config import Settings
from jobstream.infra.topics import Topics
from jobstream.keys_admin import publish_acknowledged
from jobstream.schemas import QuotaSet

pytestmark = pytest.mark.integration


def quota(namespace: str) -> QuotaSet:
    return QuotaSet(namespace=namespace, submit_rate=1.0, set_at=datetime.now(UTC), actor="cli:test")


def test_once_caught_up_every_record_written_before_has_been_folded(test_settings: Settings,
                                                                     topics_ready: Topics) -> None:
    folded: list[str] = []
    follower = TopicFollower(test_settings, topics_ready.keys, "test-follower", lambda r: folded.append(r.namespace))
    follower.start()
    try:
        assert follower.wait_caught_up(30) and folded == []  # an empty topic: caught up at once
        for round_ in range(3):  # each write is followed at once by the wait, no poll in between
            names = [f"ns-{round_}-{n}" for n in range(20)]
            publish_acknowledged(test_settings, topics_ready.keys, [(name, quota(name)) for name in names])
            assert follower.wait_caught_up(30)
            assert folded[-len(names):] == names
    finally:
        follower.stop()


def test_a_follower_not_started_is_never_caught_up(test_settings: Settings) -> None:
    follower = TopicFollower(test_settings, Topics(test_settings.topic_prefix).keys, "test-follower", print)
    assert not follower.wait_caught_up(1)

"""The overview's consumer lag: asked of the broker at most once per TTL whatever the page views,
and "unknown" (never an error) when the broker does not answer."""

from __future__ import annotations

import asyncio
import socket
import time

from jobstream.ui.consumer_lag import ConsumerLag, GroupLag

GROUPS = {"state processor": "p.state-processor", "projector": "p.projector"}


class FakeBroker:
    def __init__(self) -> None:
        self.asked = 0
        self.down = False

    def read(self, groups: dict[str, str]) -> list[GroupLag]:
        self.asked += 1
        if self.down:
            raise RuntimeError("connection refused")
        return [GroupLag(name, group, self.asked) for name, group in groups.items()]


def test_page_views_within_the_ttl_share_one_answer_of_the_broker() -> None:
    broker, now = FakeBroker(), [100.0]
    lag = ConsumerLag("unused:9092", GROUPS, ttl_s=5.0, reader=broker.read, clock=lambda: now[0])

    async def views() -> list[list[GroupLag]]:
        return list(await asyncio.gather(*(lag.lags() for _ in range(20))))

    assert all(answer[0].lag == 1 for answer in asyncio.run(views()))
    now[0] += 4.9
    assert asyncio.run(lag.lags())[0].lag == 1 and broker.asked == 1
    now[0] += 0.2
    assert [g.lag for g in asyncio.run(lag.lags())] == [2, 2] and broker.asked == 2


def test_a_broker_that_fails_makes_every_lag_unknown_and_is_not_asked_again_within_the_ttl() -> None:
    broker, now = FakeBroker(), [0.0]
    broker.down = True
    lag = ConsumerLag("unused:9092", GROUPS, ttl_s=5.0, reader=broker.read, clock=lambda: now[0])
    answer = asyncio.run(lag.lags())
    assert [(g.processor, g.lag) for g in answer] == [("state processor", None), ("projector", None)]
    assert "did not answer" in answer[0].note
    asyncio.run(lag.lags())
    assert broker.asked == 1


def test_no_broker_at_the_address_is_unknown_within_the_timeout() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    lag = ConsumerLag(f"127.0.0.1:{port}", GROUPS, timeout_s=1.0)
    started = time.monotonic()
    answer = asyncio.run(lag.lags())
    assert [g.lag for g in answer] == [None, None] and time.monotonic() - started < 5.0

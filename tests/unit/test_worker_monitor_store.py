"""The worker monitor's sweep against the engine's in-memory store: a long-lost worker leaves the
store (a tombstone on the changelog), a recent loss stays."""

from __future__ import annotations

from datetime import timedelta

from jobstream.config import Settings
from jobstream.core.liveness import LOST_RETENTION_S
from jobstream.schemas import Liveness, WorkerLiveness
from jobstream.streams.engine.processor import Batch
from jobstream.streams.engine.store import Overlay, Stores
from jobstream.streams.kafka_io import partition_for
from jobstream.streams.worker_monitor import MonitorHandler
from tests.unit.builders import T0


class Sent:
    """Stands in for the transactional producer: the sweep of lost-long-ago workers sends nothing."""

    def __init__(self) -> None:
        self.records: list[tuple[object, ...]] = []

    def produce(self, *args: object, **kwargs: object) -> None:
        self.records.append(args)

    def poll(self, timeout: float) -> int:
        return 0


def _lost(worker_id: str, seconds_ago: float, now: object) -> WorkerLiveness:
    seen = now - timedelta(seconds=seconds_ago)  # type: ignore[operator]
    return WorkerLiveness(worker_id=worker_id, status=Liveness.LOST, last_seen=seen, last_heartbeat_at=seen)


def test_the_sweep_deletes_workers_lost_longer_than_the_retention() -> None:
    now = T0 + timedelta(days=1)
    settings = Settings.from_env().with_(partitions=1)
    handler = MonitorHandler(settings, clock=lambda: now)
    stores = Stores[WorkerLiveness]()
    stores.install(0, {"old": _lost("old", LOST_RETENTION_S + 5, now), "recent": _lost("recent", 60, now)})
    handler.assigned(0, stores.tables[0])
    overlay = Overlay(stores)

    handler.punctuate(Batch(Sent(), overlay), frozenset({0}))  # type: ignore[arg-type]

    assert partition_for("old", 1) == 0
    assert list(overlay.changes()) == [(0, "old", None)]
    overlay.apply()
    assert set(stores.tables[0]) == {"recent"}

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


def _active(worker_id: str, seconds_ago: float, now: object) -> WorkerLiveness:
    seen = now - timedelta(seconds=seconds_ago)  # type: ignore[operator]
    return WorkerLiveness(worker_id=worker_id, status=Liveness.ACTIVE, last_seen=seen, last_heartbeat_at=seen)


def test_a_gap_in_the_monitors_own_sweeps_is_no_evidence_against_the_workers() -> None:
    # Given a monitor that swept, then did not run for 30 s (the broker was away, or it was paused)
    clock = [T0]
    settings = Settings.from_env().with_(partitions=1)
    handler = MonitorHandler(settings, window_s=6.4, clock=lambda: clock[0])
    stores = Stores[WorkerLiveness]()
    stores.install(0, {"w": _active("w", 1, T0)})
    handler.assigned(0, stores.tables[0])
    sent = Sent()
    handler.punctuate(Batch(sent, Overlay(stores)), frozenset({0}))  # type: ignore[arg-type]
    clock[0] = T0 + timedelta(seconds=30)

    # When it sweeps again, the worker is not declared lost: it gets a fresh window
    handler.punctuate(Batch(sent, Overlay(stores)), frozenset({0}))  # type: ignore[arg-type]
    assert sent.records == []

    # and a worker that stays silent through that window, swept every second, is
    for _ in range(7):
        clock[0] += timedelta(seconds=1)
        handler.punctuate(Batch(sent, Overlay(stores)), frozenset({0}))  # type: ignore[arg-type]
    assert str(sent.records[-1][0]).endswith(".workers")  # WorkerLost announced

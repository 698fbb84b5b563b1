"""Why a queued job waits: requirements against what live workers declared."""

from __future__ import annotations

from jobstream.core.placement import Capacity, explain, fits, shortfall
from jobstream.schemas import Requirements

PLAIN = Capacity("plain", ("default",), cpu=4, memory_mb=8192)
GPU = Capacity("gpu", ("default", "gpu"), cpu=2, memory_mb=2048, labels={"gpu": "true"})


def test_a_job_some_worker_could_take_has_no_reason() -> None:
    assert explain("default", None, [PLAIN]) is None
    assert explain("default", Requirements(cpu=2, memory_mb=1024, labels={"gpu": "true"}), [PLAIN, GPU]) is None


def test_more_memory_than_any_worker_declares_names_the_figures() -> None:
    reason = explain("default", Requirements(memory_mb=100_000), [PLAIN, GPU])
    assert reason == "needs memory_mb=100000 but the most any live worker of queue 'default' declares is 8192"


def test_missing_label_and_cpu_are_both_named() -> None:
    reason = explain("default", Requirements(cpu=16, labels={"zone": "eu"}), [PLAIN, GPU])
    assert reason is not None and "cpu=16" in reason and "label zone=eu" in reason


def test_needs_met_only_on_different_workers() -> None:
    reason = explain("default", Requirements(memory_mb=4096, labels={"gpu": "true"}), [PLAIN, GPU])
    assert reason is not None and reason.startswith("no single live worker")
    assert "memory_mb 4096 > 2048" in reason or "label gpu=true" in reason


def test_no_worker_serves_the_queue() -> None:
    assert explain("batch", None, [PLAIN, GPU]) == "no live worker serves queue 'batch'"
    assert explain("default", None, []) == "no live worker serves queue 'default'"


def test_capacity_from_a_read_model_row_tolerates_missing_columns() -> None:
    row = {"worker_id": "w", "queues": ["default"], "cpu": None, "memory_mb": 512, "labels": {"gpu": "true"}}
    capacity = Capacity.from_row(row)
    assert capacity == Capacity("w", ("default",), 0.0, 512, {"gpu": "true"})
    assert fits(Requirements(memory_mb=512, labels={"gpu": "true"}), capacity.cpu, capacity.memory_mb, capacity.labels)
    assert shortfall(Requirements(memory_mb=513), 0, 512, {}) == ["memory_mb 513 > 512"]

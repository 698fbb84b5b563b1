"""A worker's outbox: a finish report stays on disk until the broker acknowledged it, and only
its own worker sends it while that worker lives."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobstream.worker.outbox import RESEND_EVERY_S, Kept, Outbox

REPORT = Kept("e-1:finished", "jobstream.commands", b"job-1", b"\xc3\x01avro")


def test_a_kept_report_is_due_again_in_a_new_process_until_delivered(tmp_path: Path) -> None:
    first = Outbox(tmp_path, "w-1")
    first.keep(REPORT)
    first.sending(REPORT.command_id, now=100.0)
    assert first.due(now=101.0) == []  # in flight: not twice at once
    assert first.due(now=100.0 + RESEND_EVERY_S) == [REPORT]  # not acknowledged for a while: again
    first.close()  # the process dies

    after_a_crash = Outbox(tmp_path, "w-2")
    assert after_a_crash.due(now=0.0) == [REPORT]
    after_a_crash.delivered(REPORT.command_id)
    assert after_a_crash.due(now=0.0) == []
    assert [p.name for p in tmp_path.iterdir()] == [after_a_crash.directory.name]  # the dead one's folder went


def test_a_live_workers_reports_are_never_sent_by_another(tmp_path: Path) -> None:
    # Sent by another producer, a finish report could overtake its worker's unflushed start report
    running, other = Outbox(tmp_path, "w-1"), Outbox(tmp_path, "w-2")
    running.keep(REPORT)

    assert other.due(now=1e9) == []
    assert running.due(now=0.0) == [REPORT]
    running.close()
    assert other.due(now=0.0) == [REPORT]  # once its worker is dead


def test_a_folder_adopted_by_one_worker_is_not_adopted_again_by_another(tmp_path: Path) -> None:
    dead = Outbox(tmp_path, "w-1")
    dead.keep(REPORT)
    dead.close()
    first, second = Outbox(tmp_path, "w-2"), Outbox(tmp_path, "w-3")

    assert first.due(now=0.0) == [REPORT]
    assert second.due(now=0.0) == []


def test_a_restarted_worker_of_the_same_id_takes_its_folder_over(tmp_path: Path) -> None:
    before = Outbox(tmp_path, "w-1")
    before.keep(REPORT)
    with pytest.raises(RuntimeError, match="held by a running worker"):
        Outbox(tmp_path, "w-1")
    before.close()

    assert Outbox(tmp_path, "w-1").due(now=0.0) == [REPORT]


def test_reports_kept_before_per_worker_folders_are_adopted(tmp_path: Path) -> None:
    old = Outbox(tmp_path, "old")
    old.keep(REPORT)
    for path in old.directory.glob("*.json"):
        path.replace(tmp_path / path.name)  # where a worker kept them before

    assert Outbox(tmp_path, "new").due(now=0.0) == [REPORT]


def test_a_half_written_report_is_not_read_and_a_broken_one_is_set_aside(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path, "w-1")
    (outbox.directory / "x.tmp").write_text('{"command_id": "e-2:fin')  # a crash inside keep(): never renamed
    (outbox.directory / "y.json").write_text("not json")
    assert outbox.due(now=0.0) == []
    assert (outbox.directory / "y.unreadable").exists() and not (outbox.directory / "y.json").exists()
    outbox.close()

    adopter = Outbox(tmp_path, "w-2")
    assert adopter.due(now=0.0) == []
    assert sorted(p.name for p in adopter.directory.iterdir()) == [".lock", "y.unreadable"]  # kept for a human

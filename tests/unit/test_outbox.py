"""A worker's outbox: a finish report stays on disk until the broker acknowledged it, and only its
own worker (or, once that one is dead, another on the same machine) sends it."""

from __future__ import annotations

import base64
from pathlib import Path

from jobstream.worker.outbox import RESEND_EVERY_S, Kept, Outbox

REPORT = Kept("e-1:finished", "jobstream.commands", b"job-1", b"\xc3\x01avro")


def test_a_kept_report_is_due_again_until_delivered_and_then_by_the_next_worker(tmp_path: Path) -> None:
    first = Outbox(tmp_path, "worker-a")
    first.keep(REPORT)
    first.sending(REPORT.command_id, now=100.0)
    assert first.due(now=101.0) == []  # in flight: not twice at once
    assert first.due(now=100.0 + RESEND_EVERY_S) == [REPORT]  # not acknowledged for a while: again

    first.close()  # its process died
    next_worker = Outbox(tmp_path, "worker-b")
    assert next_worker.due(now=0.0) == [REPORT]
    next_worker.delivered(REPORT.command_id)
    assert next_worker.due(now=0.0) == []
    assert [p.name for p in tmp_path.iterdir()] == [_directory("worker-b")]  # the dead one's is gone


def test_a_signed_report_keeps_its_workers_signature_for_whoever_sends_it(tmp_path: Path) -> None:
    signed = Kept("e-2:finished", "jobstream.commands", b"job-2", b"\xc3\x01avro", mac=b"\x07" * 32)
    first = Outbox(tmp_path, "worker-a")
    first.keep(signed)
    first.close()
    assert Outbox(tmp_path, "worker-b").due(now=0.0) == [signed]  # the dead worker's MAC, not the sender's


def test_a_live_workers_reports_are_never_sent_by_another(tmp_path: Path) -> None:
    # Given two workers on one machine, one of which just kept its finish report
    alive = Outbox(tmp_path, "worker-a")
    alive.keep(REPORT)
    other = Outbox(tmp_path, "worker-b")

    # Then the other does not send it (a copy could overtake its owner's start report)
    assert other.due(now=1e9) == []
    assert alive.due(now=0.0) == [REPORT]


def test_reports_of_a_release_without_directories_per_worker_are_taken_over(tmp_path: Path) -> None:
    written = Outbox(tmp_path / "elsewhere", "old")
    written.keep(REPORT)
    next((tmp_path / "elsewhere").rglob("*.json")).replace(tmp_path / "outbox-root-file.json")  # where it stood
    assert Outbox(tmp_path, "worker-c").due(now=0.0) == [REPORT]


def test_a_half_written_report_is_not_read_and_a_broken_one_is_set_aside(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path, "worker-a")
    own = tmp_path / _directory("worker-a")
    (own / "x.tmp").write_text('{"command_id": "e-2:fin')  # a crash inside keep(): never renamed
    (own / "y.json").write_text("not json")
    assert outbox.due(now=0.0) == []
    assert (own / "y.unreadable").exists() and not (own / "y.json").exists()


def _directory(owner: str) -> str:
    return base64.urlsafe_b64encode(owner.encode()).decode()

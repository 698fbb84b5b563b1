"""A worker's outbox: a finish report stays on disk until the broker acknowledged it."""

from __future__ import annotations

from pathlib import Path

from jobstream.worker.outbox import RESEND_EVERY_S, Kept, Outbox

REPORT = Kept("e-1:finished", "jobstream.commands", b"job-1", b"\xc3\x01avro")


def test_a_kept_report_is_due_again_in_a_new_process_until_delivered(tmp_path: Path) -> None:
    first = Outbox(tmp_path)
    first.keep(REPORT)
    first.sending(REPORT.command_id, now=100.0)
    assert first.due(now=101.0) == []  # in flight: not twice at once
    assert first.due(now=100.0 + RESEND_EVERY_S) == [REPORT]  # not acknowledged for a while: again

    after_a_crash = Outbox(tmp_path)
    assert after_a_crash.due(now=0.0) == [REPORT]
    after_a_crash.delivered(REPORT.command_id)
    assert after_a_crash.due(now=0.0) == [] and first.due(now=1e9) == []
    first.delivered(REPORT.command_id)  # delivered by both: no error


def test_a_half_written_report_is_not_read_and_a_broken_one_is_set_aside(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path)
    (tmp_path / "x.tmp").write_text('{"command_id": "e-2:fin')  # a crash inside keep(): never renamed
    (tmp_path / "y.json").write_text("not json")
    assert outbox.due(now=0.0) == []
    assert (tmp_path / "y.unreadable").exists() and not (tmp_path / "y.json").exists()

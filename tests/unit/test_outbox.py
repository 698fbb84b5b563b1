"""A worker's outbox: a finish report stays on disk (in a segment) until the broker acknowledged it,
and only its own worker (or, once that one is dead, another on the same machine) sends it."""

from __future__ import annotations

import base64
import json
import queue
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobstream.worker import outbox as outbox_module
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


def test_reports_of_releases_with_a_file_per_report_are_taken_over(tmp_path: Path) -> None:
    # Given a report where a release without directories per worker kept it, and one where a
    # release with a file per report did, in the directory of the worker that starts now
    _legacy_file(tmp_path / "outbox-root-file.json", REPORT)
    other = Kept("e-3:finished", "jobstream.commands", b"job-3", b"\xc3\x01avro")
    (tmp_path / _directory("worker-c")).mkdir()
    _legacy_file(tmp_path / _directory("worker-c") / "x.json", other)

    # Then both are due, and once acknowledged nothing of them is left
    outbox = Outbox(tmp_path, "worker-c")
    assert sorted(outbox.due(now=0.0), key=lambda kept: kept.command_id) == [REPORT, other]
    outbox.delivered(REPORT.command_id)
    outbox.delivered(other.command_id)
    assert _files(tmp_path) == [f"{_directory('worker-c')}/.lock", f"{_directory('worker-c')}/reports-0000000000.jsonl"]
    assert _on_disk(tmp_path) == {"reports-0000000000.jsonl": []}


def test_a_segment_goes_once_every_report_in_it_is_acknowledged(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(outbox_module, "SEGMENT_REPORTS", 2)
    outbox = Outbox(tmp_path, "worker-a")
    reports = [Kept(f"e-{n}:finished", "jobstream.commands", b"job", b"v") for n in range(3)]
    for report in reports:
        outbox.keep(report)
    assert _on_disk(tmp_path) == {"reports-0000000000.jsonl": ["e-0:finished", "e-1:finished"],
                                  "reports-0000000001.jsonl": ["e-2:finished"]}

    outbox.delivered(reports[0].command_id)  # its segment still holds an unacknowledged report
    assert len(_on_disk(tmp_path)) == 2
    outbox.delivered(reports[1].command_id)
    assert _on_disk(tmp_path) == {"reports-0000000001.jsonl": ["e-2:finished"]}
    outbox.delivered(reports[2].command_id)  # the current segment, all acknowledged: emptied
    assert _on_disk(tmp_path) == {"reports-0000000001.jsonl": []}
    outbox.keep(REPORT)  # and appended to again
    assert _on_disk(tmp_path) == {"reports-0000000001.jsonl": [REPORT.command_id]}


def test_a_report_left_unacknowledged_keeps_no_acknowledged_one_on_disk(tmp_path: Path) -> None:
    # Given a worker whose first report stays unacknowledged while later ones are acknowledged
    outbox = Outbox(tmp_path, "worker-a")
    stuck, *acknowledged = [Kept(f"e-{n}:finished", "jobstream.commands", b"job", b"v") for n in range(3)]
    for report in (stuck, *acknowledged):
        outbox.keep(report)
    for report in acknowledged:
        outbox.delivered(report.command_id)

    # When its heartbeat asks what is due, and then it dies
    assert outbox.due(now=0.0) == [stuck]
    assert list(_on_disk(tmp_path).values()) == [[stuck.command_id]]
    outbox.close()

    # Then the next worker sends the unacknowledged report only
    assert Outbox(tmp_path, "worker-b").due(now=0.0) == [stuck]


@pytest.fixture
def frequent_thread_switches() -> Iterator[None]:
    """Threads switch as often as the interpreter can, so that races show."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(before)


@pytest.mark.usefixtures("frequent_thread_switches")
def test_acknowledgements_from_another_thread_lose_nothing(tmp_path: Path) -> None:
    # A delivery callback runs on whichever thread polls or flushes the producer.
    outbox = Outbox(tmp_path, "worker-a")
    kept: queue.SimpleQueue[str | None] = queue.SimpleQueue()

    def acknowledge() -> None:
        while (command_id := kept.get()) is not None:
            outbox.delivered(command_id)

    acknowledger = threading.Thread(target=acknowledge)
    acknowledger.start()
    for n in range(5 * outbox_module.SEGMENT_REPORTS):
        report = Kept(f"e-{n}:finished", "jobstream.commands", b"job", b"v")
        outbox.keep(report)
        kept.put(report.command_id)
    kept.put(None)
    acknowledger.join()
    assert outbox.pending == {}
    assert all(lines == [] for lines in _on_disk(tmp_path).values())


def test_a_restarted_worker_sends_what_it_kept_before(tmp_path: Path) -> None:
    first = Outbox(tmp_path, "worker-a")
    first.keep(REPORT)
    first.close()
    again = Outbox(tmp_path, "worker-a")
    assert again.due(now=0.0) == [REPORT]
    again.delivered(REPORT.command_id)
    again.close()
    assert _on_disk(tmp_path) == {}


def test_a_line_cut_short_is_dropped_and_a_broken_segment_is_set_aside(tmp_path: Path) -> None:
    # Given a dead worker's segments: one whose last line a crash cut short inside the write (the
    # report was never produced), one with a line that is not a report
    dead = tmp_path / _directory("dead")
    dead.mkdir()
    whole = json.dumps(_legacy_document(REPORT)).encode()
    (dead / "reports-0000000000.jsonl").write_bytes(whole + b"\n" + b'{"command_id": "e-2:fin')
    (dead / "reports-0000000001.jsonl").write_bytes(b"not json\n")

    # Then the whole report is taken over, the cut one dropped, the broken segment set aside
    outbox = Outbox(tmp_path, "worker-b")
    assert outbox.due(now=0.0) == [REPORT]
    assert (dead / "reports-0000000001.unreadable").exists()
    assert not (dead / "reports-0000000000.jsonl").exists()


def _legacy_document(report: Kept) -> dict[str, str]:
    return {"command_id": report.command_id, "topic": report.topic, "key": base64.b64encode(report.key).decode(),
            "value": base64.b64encode(report.value).decode()}


def _legacy_file(path: Path, report: Kept) -> None:
    path.write_text(json.dumps(_legacy_document(report)))


def _files(root: Path) -> list[str]:
    return sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file())


def _on_disk(root: Path) -> dict[str, list[str]]:
    """Each segment under ``root`` (by file name) with the command ids of its reports."""
    return {path.name: [json.loads(line)["command_id"] for line in path.read_bytes().splitlines()]
            for path in sorted(root.rglob("reports-*.jsonl"))}


def _directory(owner: str) -> str:
    return base64.urlsafe_b64encode(owner.encode()).decode()

"""Finish reports a worker must not lose, kept on local disk until the broker has them.

A finish report is the only record of how an execution ended. librdkafka holds an undelivered
message in memory (five minutes by default) and loses it with the process, so a worker that dies
while the broker is away would leave its job to run again. Before producing one, the worker
appends it (one JSON line, one write) to the current segment of its own directory of the outbox.
A segment all acknowledged by the broker (acks=all: durable, so the state processor will decide
it) is emptied if current, deleted otherwise; the next segment begins after ``SEGMENT_REPORTS``
reports. A file per report (written, renamed, deleted) took a quarter of a worker's CPU under
load (py-spy, ``jobstream bench e2e --kind inline``). Every ``due`` (each heartbeat) rewrites the
reports still unacknowledged into a new segment and deletes the older ones, so a report that
stays unacknowledged does not keep acknowledged ones on disk. A worker resends what is
unacknowledged every ``RESEND_EVERY_S`` while it runs; a worker that takes over a segment resends
every report in it, some perhaps acknowledged within the last heartbeat: harmless, because a
report's id is deterministic and a recent repeat decides nothing (a job remembers its last 64
command ids).

The file is not fsynced: it outlives the process (killed, crashed, restarted by its supervisor),
not the host. A host that crashes loses its worker anyway, and the monitor's loss sends its
executions to run again; an fsync per report blocked the event loop 1.5 ms here (0.13 ms without).
A line cut short by a crash inside the write was never produced, so it is dropped, like the
execution it was about (the monitor expires it).

A worker holds a lock on its directory for its life, and takes over the reports of a directory
whose lock is free: an earlier worker's on this machine, dead. It never sends a live worker's
reports: a copy of another's finish report, sent the moment it was written, overtook that
worker's own start report, and the state processor rejected it as the finish of a queued job.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import logging
import os
import threading
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

log = logging.getLogger(__name__)
RESEND_EVERY_S = 30.0  # a report not acknowledged by then is produced again
SEGMENT_REPORTS = 1000  # a segment takes this many reports at most, then the next begins
SEGMENTS = "reports-*.jsonl"
SEGMENT_FILES = "reports-*"  # with those set aside as unreadable
LOCK_FILE = ".lock"


@dataclass(frozen=True)
class Kept:
    command_id: str
    topic: str
    key: bytes
    value: bytes
    mac: bytes | None = None  # its worker's signature (core/report_keys.py): whoever resends it, it is that worker's


@dataclass
class _Segment:
    path: Path
    file: BinaryIO
    lines: int = 0  # since it began or was last emptied


class Outbox:
    def __init__(self, root: Path, owner: str) -> None:
        self.root, self.directory = root, root / base64.urlsafe_b64encode(owner.encode()).decode()
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock = _locked(self.directory)
        if self._lock is None:
            raise RuntimeError(f"the outbox {self.directory} is held by another live process")
        # A delivery callback runs on whichever thread polls or flushes the producer.
        self._guard = threading.Lock()
        self.sent_at: dict[str, float] = {}  # command id -> when this process last produced it
        self.pending: dict[str, Kept] = {}  # kept, not yet acknowledged
        self.segment_of: dict[str, Path] = {}
        self.unacknowledged: Counter[Path] = Counter()  # per segment
        self.current: _Segment | None = None  # the one appended to
        # never a number used before here, set aside (.unreadable) ones included
        self.next_number = 1 + max((_segment_number(path) for path in self.directory.glob(SEGMENT_FILES)), default=-1)
        self._take_over(self.directory)  # what an earlier process of this worker left

    def close(self) -> None:
        """Give up the directory (as the process's end does): another worker may take its reports."""
        with self._guard:
            if self.current is not None and not self.unacknowledged[self.current.path]:
                self.current.path.unlink(missing_ok=True)
            self._end_segment()
            if self._lock is not None:
                os.close(self._lock)
                self._lock = None

    def keep(self, report: Kept) -> None:
        """Append the report to the current segment before it is produced. A report kept already
        (the same command id, so the same report) is not written twice."""
        with self._guard:
            self._keep_once(report)

    def delivered(self, command_id: str) -> None:
        with self._guard:
            self.sent_at.pop(command_id, None)
            self.pending.pop(command_id, None)
            path = self.segment_of.pop(command_id, None)
            if path is None:
                return  # kept by another process, or acknowledged twice
            self.unacknowledged[path] -= 1
            if self.unacknowledged[path]:
                return
            del self.unacknowledged[path]
            if self.current is not None and path == self.current.path:
                self.current.file.truncate(0)  # emptied, not deleted: no new file per report at a low rate
                self.current.lines = 0
            else:
                path.unlink(missing_ok=True)

    def due(self, now: float) -> list[Kept]:
        """Reports to produce (again): never sent by this process, or not acknowledged for a while;
        a dead worker's among them."""
        with self._guard:
            self._adopt_orphans()
            self._compact()
            return [report for command_id, report in self.pending.items()
                    if now - self.sent_at.get(command_id, -RESEND_EVERY_S) >= RESEND_EVERY_S]

    def sending(self, command_id: str, now: float) -> None:
        with self._guard:
            self.sent_at[command_id] = now

    def _append(self, report: Kept) -> None:
        segment = self.current or self._begin_segment()
        segment.file.write(json.dumps(_document(report)).encode() + b"\n")
        segment.file.flush()  # the whole line, in one write as a rule
        self.pending[report.command_id], self.segment_of[report.command_id] = report, segment.path
        self.unacknowledged[segment.path] += 1
        segment.lines += 1
        if segment.lines >= SEGMENT_REPORTS:
            self._end_segment()

    def _begin_segment(self) -> _Segment:
        path = self.directory / _segment_name(self.next_number)
        self.current, self.next_number = _Segment(path, path.open("ab")), self.next_number + 1
        return self.current

    def _end_segment(self) -> None:
        if self.current is not None:
            self.current.file.close()
            self.current = None

    def _compact(self) -> None:
        """Rewrite the unacknowledged reports of every segment holding acknowledged ones, or of one
        no longer appended to, into a new segment; delete those."""
        if self.current is not None and self.current.lines > self.unacknowledged[self.current.path]:
            self._end_segment()
        current = self.current.path if self.current is not None else None
        stale = {path for path in self.unacknowledged if path != current}
        if not stale:
            return
        moving = [self.pending[command_id] for command_id, path in self.segment_of.items() if path in stale]
        for report in moving:
            self._append(report)
        for path in stale:
            del self.unacknowledged[path]
            path.unlink(missing_ok=True)

    def _take_over(self, directory: Path) -> None:
        """Keep the reports of ``directory``'s segments (and single files of earlier releases) in our
        own segment, then remove them there."""
        for path in sorted(directory.glob(SEGMENTS), key=_segment_number):
            self._take_segment(path)
        for path in sorted(directory.glob("*.json")):
            self._take_file(path)

    def _keep_once(self, report: Kept) -> None:
        if report.command_id not in self.pending:
            self._append(report)

    def _take_file(self, path: Path) -> None:
        """A report in a file of its own, as releases before segments kept them."""
        report = self._read(path)
        if report is not None:
            self._keep_once(report)
            path.unlink(missing_ok=True)

    def _take_segment(self, path: Path) -> None:
        try:
            lines = path.read_bytes().split(b"\n")
        except FileNotFoundError:
            return  # taken by another worker meanwhile
        unreadable = 0
        for line in lines[:-1]:  # the last is empty, or cut short by a crash inside a write
            try:
                self._keep_once(_kept(json.loads(line)))
            except (ValueError, KeyError, TypeError, AttributeError):
                unreadable += 1
        if unreadable:  # not ours to guess at: set aside, said once
            path.replace(path.with_suffix(".unreadable"))
            log.error("outbox segment %s has %d unreadable lines; set aside as .unreadable", path, unreadable)
        else:
            path.unlink(missing_ok=True)

    def _read(self, path: Path) -> Kept | None:
        try:
            return _kept(json.loads(path.read_text()))
        except FileNotFoundError:
            return None  # delivered meanwhile, by another worker
        except (ValueError, KeyError, TypeError, AttributeError) as error:  # not ours to guess at: set aside
            path.replace(path.with_suffix(".unreadable"))
            log.error("outbox file %s is unreadable (%s); set aside as .unreadable", path, error)
            return None

    def _adopt_orphans(self) -> None:
        for path in self.root.glob("*.json"):  # written by a release that kept no directory per worker
            self._take_file(path)
        for directory in self.root.iterdir():
            if directory.is_dir() and directory != self.directory:
                self._adopt(directory)

    def _adopt(self, directory: Path) -> None:
        lock = _locked(directory)
        if lock is None:
            return  # its worker lives: its reports are its own
        try:
            self._take_over(directory)
            with contextlib.suppress(OSError):  # another worker may be adopting it too
                (directory / LOCK_FILE).unlink()
                directory.rmdir()
        finally:
            os.close(lock)


def _document(report: Kept) -> dict[str, str]:
    document = {"command_id": report.command_id, "topic": report.topic,
                "key": base64.b64encode(report.key).decode(), "value": base64.b64encode(report.value).decode()}
    if report.mac is not None:
        document["mac"] = base64.b64encode(report.mac).decode()
    return document


def _kept(document: dict[str, str]) -> Kept:
    mac = document.get("mac")  # absent from an unsigned report, and from an earlier release's
    return Kept(document["command_id"], document["topic"], base64.b64decode(document["key"]),
                base64.b64decode(document["value"]), base64.b64decode(mac) if mac else None)


def _segment_name(number: int) -> str:
    return f"reports-{number:010d}.jsonl"


def _segment_number(path: Path) -> int:
    return int(path.stem.removeprefix("reports-"))


def _locked(directory: Path) -> int | None:
    """An exclusive lock on the directory's lock file (released when the process ends), or None
    while another process holds it."""
    descriptor = os.open(directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(descriptor)
        return None
    return descriptor

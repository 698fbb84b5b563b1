"""Finish reports a worker must not lose, kept on local disk until the broker has them.

A finish report is the only record of how an execution ended. librdkafka holds an undelivered
message in memory (five minutes by default) and loses it with the process, so a worker that dies
while the broker is away would leave its job to run again. Before producing one, the worker
writes it in its own directory of the outbox (one file per command id, written atomically); the
file goes once the broker acknowledges the report (acks=all: durable, so the state processor will
decide it). A worker resends what is left there every ``RESEND_EVERY_S`` while it runs:
harmless, because a report's id is deterministic and a repeat decides nothing.

The file is not fsynced: it outlives the process (killed, crashed, restarted by its supervisor),
not the host. A host that crashes loses its worker anyway, and the monitor's loss sends its
executions to run again; an fsync per report blocked the event loop 1.5 ms here (0.13 ms without).

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
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)
RESEND_EVERY_S = 30.0  # a report not acknowledged by then is produced again
LOCK_FILE = ".lock"


@dataclass(frozen=True)
class Kept:
    command_id: str
    topic: str
    key: bytes
    value: bytes
    mac: bytes | None = None  # its worker's signature (core/report_keys.py): whoever resends it, it is that worker's


class Outbox:
    def __init__(self, root: Path, owner: str) -> None:
        self.root, self.directory = root, root / base64.urlsafe_b64encode(owner.encode()).decode()
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock = _locked(self.directory)
        if self._lock is None:
            raise RuntimeError(f"the outbox {self.directory} is held by another live process")
        self.sent_at: dict[str, float] = {}  # command id -> when this process last produced it

    def close(self) -> None:
        """Give up the directory (as the process's end does): another worker may take its reports."""
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None

    def keep(self, report: Kept) -> None:
        """Write the report (temporary file, rename) before it is produced."""
        path = self._path(report.command_id)
        temporary = path.with_suffix(".tmp")
        document = {"command_id": report.command_id, "topic": report.topic,
                    "key": base64.b64encode(report.key).decode(), "value": base64.b64encode(report.value).decode()}
        if report.mac is not None:
            document["mac"] = base64.b64encode(report.mac).decode()
        with temporary.open("w") as file:
            json.dump(document, file)
        temporary.replace(path)

    def delivered(self, command_id: str) -> None:
        self.sent_at.pop(command_id, None)
        self._path(command_id).unlink(missing_ok=True)  # another worker may have sent it first

    def due(self, now: float) -> list[Kept]:
        """Reports to produce (again): never sent by this process, or not acknowledged for a while;
        a dead worker's among them."""
        self._adopt_orphans()
        reports = []
        for path in sorted(self.directory.glob("*.json")):
            report = self._read(path)
            if report is not None and now - self.sent_at.get(report.command_id, -RESEND_EVERY_S) >= RESEND_EVERY_S:
                reports.append(report)
        return reports

    def sending(self, command_id: str, now: float) -> None:
        self.sent_at[command_id] = now

    def _read(self, path: Path) -> Kept | None:
        try:
            document = json.loads(path.read_text())
            mac = document.get("mac")  # absent from an unsigned report, and from an earlier release's
            return Kept(document["command_id"], document["topic"], base64.b64decode(document["key"]),
                        base64.b64decode(document["value"]), base64.b64decode(mac) if mac else None)
        except FileNotFoundError:
            return None  # delivered meanwhile, by another worker
        except (ValueError, KeyError) as error:  # not ours to guess at: set aside, said once
            path.replace(path.with_suffix(".unreadable"))
            log.error("outbox file %s is unreadable (%s); set aside as .unreadable", path, error)
            return None

    def _adopt_orphans(self) -> None:
        for path in self.root.glob("*.json"):  # written by a release that kept no directory per worker
            path.replace(self.directory / path.name)
        for directory in self.root.iterdir():
            if directory.is_dir() and directory != self.directory:
                self._adopt(directory)

    def _adopt(self, directory: Path) -> None:
        lock = _locked(directory)
        if lock is None:
            return  # its worker lives: its reports are its own
        try:
            for path in directory.glob("*.json"):
                path.replace(self.directory / path.name)
            with contextlib.suppress(OSError):  # another worker may be adopting it too
                (directory / LOCK_FILE).unlink()
                directory.rmdir()
        finally:
            os.close(lock)

    def _path(self, command_id: str) -> Path:
        return self.directory / f"{base64.urlsafe_b64encode(command_id.encode()).decode()}.json"


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

"""Finish reports a worker must not lose, kept on local disk until the broker has them.

A finish report is the only record of how an execution ended. librdkafka holds an undelivered
message in memory (five minutes by default) and loses it with the process, so a worker that dies
while the broker is away would leave its job to run again. Before producing one, the worker
writes it here (one file per command id, written atomically); the file goes once the broker
acknowledges the report (acks=all: durable, so the state processor will decide it). A worker
resends what is left here every ``RESEND_EVERY_S`` while it runs: harmless, because a report's id
is deterministic and a repeat decides nothing.

Each worker keeps its reports in a folder of its own, locked (flock) while its process lives:
workers sharing a state directory must never send each other's reports, because a finish report
sent by another producer can reach the commands topic before the started report its worker has
not flushed yet, and a finish decided before its start is refused, leaving the job running for
ever. The folder of a worker that died (its lock is free) is adopted by the next worker that
looks: its reports are then that worker's to send.
"""

from __future__ import annotations

import base64
import fcntl
import json
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)
RESEND_EVERY_S = 30.0  # a report not acknowledged by then is produced again
LOCK = ".lock"


@dataclass(frozen=True)
class Kept:
    command_id: str
    topic: str
    key: bytes
    value: bytes


class Outbox:
    def __init__(self, root: Path, owner: str) -> None:
        self.root = root
        self.directory, self._lock = _claim(root, _file_name(owner))
        self.sent_at: dict[str, float] = {}  # command id -> when this process last produced it

    def close(self) -> None:
        """Release the folder (as the process's death does): another outbox may adopt it."""
        os.close(self._lock)

    def keep(self, report: Kept) -> None:
        """Write the report durably (temporary file, fsync, rename) before it is produced."""
        path = self._path(report.command_id)
        temporary = path.with_suffix(".tmp")
        document = {"command_id": report.command_id, "topic": report.topic,
                    "key": base64.b64encode(report.key).decode(), "value": base64.b64encode(report.value).decode()}
        with temporary.open("w") as file:
            json.dump(document, file)
            file.flush()
            os.fsync(file.fileno())
        temporary.replace(path)

    def delivered(self, command_id: str) -> None:
        self.sent_at.pop(command_id, None)
        self._path(command_id).unlink(missing_ok=True)

    def due(self, now: float) -> list[Kept]:
        """Reports to produce (again): never sent by this process (adopted), or not acknowledged for a while."""
        self._adopt_orphans()
        reports = []
        for path in sorted(self.directory.glob("*.json")):
            report = self._read(path)
            if report is not None and now - self.sent_at.get(report.command_id, -RESEND_EVERY_S) >= RESEND_EVERY_S:
                reports.append(report)
        return reports

    def sending(self, command_id: str, now: float) -> None:
        self.sent_at[command_id] = now

    def _adopt_orphans(self) -> None:
        """Move the reports of dead workers' folders into this one, and remove those folders;
        reports kept in the root itself are of a worker from before the folders."""
        for path in self.root.glob("*.json"):
            path.replace(self.directory / path.name)
        for folder in self.root.iterdir():
            if folder == self.directory or folder.name.startswith(".") or not folder.is_dir():
                continue
            lock = _try_lock(folder)
            if lock is None:
                continue  # its worker lives: its reports are its own to send, in order
            try:
                if os.fstat(lock).st_nlink:  # else adopted and removed by another worker meanwhile
                    self._take_over(folder)
            except OSError as error:  # tried again at the next look
                log.warning("outbox %s of a stopped worker not adopted yet: %s", folder, error)
            finally:
                os.close(lock)

    def _take_over(self, folder: Path) -> None:
        for path in folder.iterdir():  # reports, and those set aside as unreadable
            if path.name != LOCK and path.suffix != ".tmp":  # a .tmp was never produced
                path.replace(self.directory / path.name)
        shutil.rmtree(folder, ignore_errors=True)

    def _read(self, path: Path) -> Kept | None:
        try:
            document = json.loads(path.read_text())
            return Kept(document["command_id"], document["topic"], base64.b64decode(document["key"]),
                        base64.b64decode(document["value"]))
        except FileNotFoundError:
            return None
        except (ValueError, KeyError) as error:  # not ours to guess at: set aside, said once
            path.replace(path.with_suffix(".unreadable"))
            log.error("outbox file %s is unreadable (%s); set aside as .unreadable", path, error)
            return None

    def _path(self, command_id: str) -> Path:
        return self.directory / f"{_file_name(command_id)}.json"


def _file_name(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


def _claim(root: Path, name: str) -> tuple[Path, int]:
    """A folder of this process's own, locked before it is visible under its name (a hidden
    folder renamed into place), so that no other worker takes it for a dead one's. An earlier
    process's of the same name, dead, is taken over with what it kept."""
    directory = root / name
    lock = _try_lock(directory)
    if lock is not None:
        return directory, lock
    if directory.exists():
        raise RuntimeError(f"outbox {directory} is held by a running worker of the same id")
    hidden = root / f".{name}"
    hidden.mkdir(parents=True, exist_ok=True)
    lock = os.open(hidden / LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(lock)
        raise RuntimeError(f"outbox {directory} is being claimed by another worker of the same id") from None
    hidden.replace(directory)
    return directory, lock


def _try_lock(folder: Path) -> int | None:
    """The lock of a folder whose worker is dead (a descriptor to close), else None."""
    try:
        lock = os.open(folder / LOCK, os.O_RDWR)
    except OSError:
        return None  # adopted and removed meanwhile by another worker
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(lock)
        return None
    return lock

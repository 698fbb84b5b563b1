"""Finish reports a worker must not lose, kept on local disk until the broker has them.

A finish report is the only record of how an execution ended. librdkafka holds an undelivered
message in memory (five minutes by default) and loses it with the process, so a worker that dies
while the broker is away would leave its job to run again. Before producing one, the worker
writes it here (one file per command id, written atomically); the file goes once the broker
acknowledges the report (acks=all: durable, so the state processor will decide it). A worker
resends what is left here when it starts (its own, or an earlier worker's on this machine) and
every ``RESEND_EVERY_S`` while it runs: harmless, because a report's id is deterministic and a
repeat decides nothing.
"""

from __future__ import annotations

import base64
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)
RESEND_EVERY_S = 30.0  # a report not acknowledged by then is produced again


@dataclass(frozen=True)
class Kept:
    command_id: str
    topic: str
    key: bytes
    value: bytes


class Outbox:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.sent_at: dict[str, float] = {}  # command id -> when this process last produced it

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
        self._path(command_id).unlink(missing_ok=True)  # another worker may have sent it first

    def due(self, now: float) -> list[Kept]:
        """Reports to produce (again): never sent by this process, or not acknowledged for a while."""
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
            return Kept(document["command_id"], document["topic"], base64.b64decode(document["key"]),
                        base64.b64decode(document["value"]))
        except FileNotFoundError:
            return None  # delivered meanwhile, by another worker
        except (ValueError, KeyError) as error:  # not ours to guess at: set aside, said once
            path.replace(path.with_suffix(".unreadable"))
            log.error("outbox file %s is unreadable (%s); set aside as .unreadable", path, error)
            return None

    def _path(self, command_id: str) -> Path:
        return self.directory / f"{base64.urlsafe_b64encode(command_id.encode()).decode()}.json"

"""Command results (jobstream.results): what became of each command, keyed by command_id.

Derived from the events and the poison topic, never from the state processor's own output, so
producers can learn the fate of a command without slowing the decisions down.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import ClassVar

from .base import Record


class CommandStatus(StrEnum):
    """A command's fate."""

    ACCEPTED = "accepted"
    REJECTED = "rejected"
    POISONED = "poisoned"


ENUMS: dict[str, type[StrEnum]] = {"jobstream.results.CommandStatus": CommandStatus}


@dataclass(frozen=True, slots=True, kw_only=True)
class CausedEvent(Record):
    """One event a command caused."""

    avro_name: ClassVar[str] = "jobstream.results.CausedEvent"
    event_id: str
    type: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CommandResult(Record):
    """What became of one command; a later result for the same id supersedes an earlier one."""

    avro_name: ClassVar[str] = "jobstream.results.CommandResult"
    command_id: str
    job_id: str | None = None
    status: CommandStatus
    reason: str | None = None
    events: list[CausedEvent] = field(default_factory=list)
    at: datetime


RECORDS: tuple[type[Record], ...] = (CausedEvent, CommandResult)

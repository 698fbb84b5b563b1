"""The audit trail's records (jobstream.audit): what the API was asked, by whom, and its answer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from .base import Record


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditEntry(Record):
    avro_name: ClassVar[str] = "jobstream.audit.AuditEntry"
    entry_id: str
    at: datetime
    actor: str
    role: str | None = None
    namespace: str | None = None
    address: str | None = None
    action: str
    method: str
    route: str
    target: str | None = None
    status: int
    detail: str = ""


RECORDS: tuple[type[Record], ...] = (AuditEntry,)

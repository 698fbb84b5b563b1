"""Root of the record class hierarchy shared by commands, job events and worker events."""

from __future__ import annotations

from typing import ClassVar


class Record:
    """Base of every dataclass that mirrors an Avro record.

    Subclasses are frozen, slotted, keyword-only dataclasses whose fields equal
    the .avsc fields one for one (a unit test enforces the parity).
    """

    __slots__ = ()
    avro_name: ClassVar[str]
    """Full Avro name, e.g. "jobstream.events.JobSubmitted"."""

    @classmethod
    def short_name(cls) -> str:
        """Record name without namespace: the value envelopes carry in `type`."""
        return cls.avro_name.rpartition(".")[2]

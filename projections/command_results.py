"""What became of a command, by its id: derived from the events it caused and from the poison topic.

Pure: the projector publishes these results on the command-results topic, the API answers
`GET /v1/commands/{id}` with the same function, so both say the same thing of every command.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from jobstream.schemas import Codec, Command, MessageDecodeError
from jobstream.schemas.binary import read_string
from jobstream.schemas.codec import HEADER_LEN, MARKER
from jobstream.schemas.results import CausedEvent, CommandResult, CommandStatus

from .rows import EventRow, PoisonedRow

REJECTIONS = frozenset({"CommandRejected", "ReportRejected"})  # events that say a command was not applied
CONFLUENT_HEADER_LEN = 5  # magic byte 0 and a 4-byte schema id


def result_of(command_id: str, events: list[EventRow], poisoned: PoisonedRow | None) -> CommandResult | None:
    """The command's result from the events it caused (in seq order) or its poisoning; None if unknown."""
    if events:
        rejection = next((e for e in events if e.type in REJECTIONS), None)
        return CommandResult(
            command_id=command_id, job_id=events[0].job_id,
            status=CommandStatus.ACCEPTED if rejection is None else CommandStatus.REJECTED,
            reason=None if rejection is None else str(rejection.payload.get("reason") or "rejected"),
            events=[CausedEvent(event_id=e.event_id, type=e.type) for e in events], at=events[-1].occurred_at)
    if poisoned is not None:
        return CommandResult(command_id=command_id, job_id=poisoned.job_id, status=CommandStatus.POISONED,
                             reason=poisoned.reason, at=poisoned.set_aside_at)
    return None


def results_of(command_ids: Iterable[str], events: list[EventRow],
               poisoned: Mapping[str, PoisonedRow]) -> list[CommandResult]:
    """Results of several commands from all the events they caused (grouped here by causation)."""
    caused: dict[str, list[EventRow]] = {}
    for event in events:
        caused.setdefault(event.causation_id or "", []).append(event)
    results = (result_of(command_id, caused.get(command_id, []), poisoned.get(command_id))
               for command_id in dict.fromkeys(command_ids))
    return [result for result in results if result is not None]


def poisoned_row(headers: Mapping[str, bytes], key: bytes | None, value: bytes | None, at_ms: int,
                 commands_topic: str, codec: Codec) -> PoisonedRow | None:
    """The row of a poison-topic message that was a command with a readable id; None for anything else."""
    text = {name: data.decode(errors="replace") for name, data in headers.items()}
    if text.get("origin.topic") != commands_topic or not value:
        return None
    command_id = _command_id(value, codec)
    if command_id is None:
        return None
    return PoisonedRow(command_id=command_id, job_id=key.decode(errors="replace") if key else None,
                       reason=text.get("reason", "set aside"), origin_topic=commands_topic,
                       origin_partition=int(text.get("origin.partition", "-1")),
                       origin_offset=int(text.get("origin.offset", "-1")),
                       set_aside_at=datetime.fromtimestamp(at_ms / 1000, UTC))


def _command_id(value: bytes, codec: Codec) -> str | None:
    """The command's id: decoded if its schema is known, else the body's first string, since every
    command starts with its envelope and the envelope with the command id (any schema version)."""
    try:
        record = codec.decode(value, topic="", partition=0, offset=0)
    except MessageDecodeError:
        return _leading_string(value)
    return record.envelope.command_id if isinstance(record, Command) else None


def _leading_string(value: bytes) -> str | None:
    """The Avro string at the start of a single-object or Confluent-framed body, if there is one."""
    start = HEADER_LEN if value[:2] == MARKER else CONFLUENT_HEADER_LEN if value[:1] == b"\0" else None
    if start is None:
        return None
    try:
        command_id, _ = read_string(value, start)
    except (IndexError, EOFError, ValueError):  # truncated, overlong or not UTF-8: no id to file it under
        return None
    return command_id or None

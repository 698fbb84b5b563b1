"""The golden files: one JSON object a line, and their replay through ``evolve`` and the projection.

A history holds, in order, each command (``"kind": "command"``, with the time it was decided at)
followed by the events it caused (``"event"``), and the workers' own events; then what replaying
it must yield: each job's final state (``"state"``) and the read model's rows (``"row"``: jobs,
executions, workers). Records travel as their wire bytes (``avro``: the single-object encoding,
decoded by the real codec, so an old history keeps testing that old messages still read) beside
a readable copy (``json``: the projection's JSON form, checked against the bytes on load).
"""

from __future__ import annotations

import json
from dataclasses import MISSING, dataclass, field, fields, is_dataclass
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Any

from jobstream.core.state import JobState, evolve
from jobstream.projections.batch import Batch
from jobstream.projections.payload import record_json
from jobstream.projections.rows import ExecutionRow, JobRow, Row, WorkerRow
from jobstream.projections.store import rows_json
from jobstream.schemas import Command, JobEvent, Record, WorkerEvent, make_codec

from .stage import Recorded

FOLDER = Path(__file__).parent
TABLES: dict[str, type[Row]] = {"jobs": JobRow, "executions": ExecutionRow, "workers": WorkerRow}
CODEC = make_codec(None)  # as every process reads: current schemas, and the baseline's for older data


@dataclass
class Replayed:
    """What a history yields: each job's state and the rows of each table (as JSON values)."""

    states: dict[str, Any] = field(default_factory=dict)
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


@dataclass
class History:
    lines: list[Recorded]
    expected: Replayed

    @property
    def events(self) -> list[JobEvent | WorkerEvent]:
        return events_of(self.lines)


def events_of(lines: list[Recorded]) -> list[JobEvent | WorkerEvent]:
    return [line.record for line in lines if isinstance(line.record, JobEvent | WorkerEvent)]


def replay(events: list[JobEvent | WorkerEvent]) -> Replayed:
    """Fold the events into job states (``evolve`` raises on a gap or a repeated seq) and into rows."""
    states: dict[str, JobState] = {}
    batch = Batch()
    for event in events:
        if isinstance(event, JobEvent):
            job_id = event.envelope.job_id
            states[job_id] = evolve(states.get(job_id, JobState(job_id)), event)
        batch.apply(event)
    tables = {"jobs": batch.jobs, "executions": batch.executions, "workers": batch.workers}
    return Replayed({job_id: plain(state) for job_id, state in sorted(states.items())},
                    {name: _rows_json(TABLES[name], rows) for name, rows in tables.items()})


def _rows_json(cls: type[Row], rows: dict[str, Any]) -> list[dict[str, Any]]:
    """The rows as the projector sends them to Postgres, by key."""
    ordered = [rows[key] for key in sorted(rows)]
    return json.loads(rows_json(cls, ordered)) if ordered else []


def plain(value: Any) -> Any:
    """A job state (or any value in one) as JSON values: records in their projection JSON form."""
    if isinstance(value, Record):
        return record_json(value)
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [plain(item) for item in value]
    return value


# ---------------------------------------------------------------------- files
def write(path: Path, lines: list[Recorded], yielded: Replayed) -> None:
    out = [_line(recorded) for recorded in lines]
    out += [{"kind": "state", "job_id": job_id, "state": state} for job_id, state in yielded.states.items()]
    out += [{"kind": "row", "table": table, "row": row} for table, rows in yielded.rows.items() for row in rows]
    path.write_text("".join(json.dumps(item) + "\n" for item in out))  # in field order: readable first


def _line(recorded: Recorded) -> dict[str, Any]:
    record = recorded.record
    line: dict[str, Any] = {"kind": "command" if isinstance(record, Command) else "event", "type": record.envelope.type}
    if recorded.at is not None:
        line["at"] = recorded.at.isoformat()
    return {**line, "json": record_json(record), "avro": CODEC.encode(record).hex()}


def read(path: Path) -> History:
    lines: list[Recorded] = []
    expected = Replayed(rows={name: [] for name in TABLES})
    for number, text in enumerate(path.read_text().splitlines(), 1):
        item = json.loads(text)
        match item["kind"]:
            case "command" | "event":
                lines.append(_recorded(item, path.name, number))
            case "state":
                expected.states[item["job_id"]] = item["state"]
            case "row":
                expected.rows[item["table"]].append(item["row"])
    return History(lines, expected)


def _says_the_same(record: Record, recorded: dict[str, Any]) -> bool:
    """The readable copy says what the bytes say; a field the schema gained since the recording
    (the bytes were written without it) holds its default."""
    decoded = record_json(record)
    defaults = {f.name: f.default for f in fields(record) if f.default is not MISSING}  # type: ignore[arg-type]
    added = decoded.keys() - recorded.keys()
    return ({key: decoded[key] for key in recorded.keys() & decoded.keys()} == recorded
            and all(key in defaults and getattr(record, key) == defaults[key] for key in added))


def _recorded(item: dict[str, Any], name: str, number: int) -> Recorded:
    record = CODEC.decode(bytes.fromhex(item["avro"]), topic="golden", partition=0, offset=number)
    if not _says_the_same(record, item["json"]):
        raise ValueError(f"{name}:{number}: the readable copy does not match the recorded bytes")
    at = datetime.fromisoformat(item["at"]) if "at" in item else None
    return Recorded(record, at)

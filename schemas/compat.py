"""Schema evolution guard: every baseline schema must stay BACKWARD and FORWARD compatible.

BACKWARD: data written with the baseline schema is readable with the current one
(new consumers, old data). FORWARD: data written with the current schema is readable
with the baseline (old consumers, new data). Both are probed empirically with
fastavro schema resolution over representative datums, which catches exactly what
fastavro's readers will do in production.

CLI: jobstream schemas check|snapshot [--current DIR] [--baseline DIR] (jobstream/schemas_cli.py)
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Literal

from fastavro import schemaless_reader, schemaless_writer

from .datums import representative_datums
from .loader import AVRO_DIR, BASELINE_DIR, LoadedSchema, load_schema_set

Direction = Literal["backward", "forward", "removed"]


@dataclass(frozen=True, slots=True)
class Incompatibility:
    """One schema that breaks the contract, and how."""

    schema: str  # full record name
    direction: Direction
    reason: str

    def __str__(self) -> str:
        return f"{self.schema}: {self.direction} incompatible: {self.reason}"


def check_compatibility(
    current_dir: Path | str = AVRO_DIR, baseline_dir: Path | str = BASELINE_DIR
) -> list[Incompatibility]:
    """Incompatibilities of the current schemas against the baseline; empty means safe to ship."""
    current = load_schema_set(current_dir).schemas
    baseline = load_schema_set(baseline_dir).schemas
    problems: list[Incompatibility] = []
    for name, old in sorted(baseline.items()):
        new = current.get(name)
        if new is None:
            problems.append(Incompatibility(name, "removed", "schema removed (or renamed) from the current set"))
            continue
        probes: list[tuple[Direction, LoadedSchema, LoadedSchema]] = [("backward", old, new), ("forward", new, old)]
        for direction, writer, reader in probes:
            reason = resolution_failure(writer, reader)
            if reason is not None:
                problems.append(Incompatibility(name, direction, reason))
    return problems


def resolution_failure(writer: LoadedSchema, reader: LoadedSchema) -> str | None:
    """Why data written with `writer` cannot be read with `reader`, or None if it can."""
    for datum in representative_datums(writer):
        buf = BytesIO()
        schemaless_writer(buf, writer.parsed, datum)  # a failure here is a bug in datums.py: let it raise
        buf.seek(0)
        try:
            schemaless_reader(buf, writer.parsed, reader.parsed)
        except Exception as exc:  # SchemaResolutionError, but any failure means "cannot read"
            return f"{type(exc).__name__}: {_shorten(str(exc))} (datum {_shorten(repr(datum))})"
    return None


def _shorten(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def snapshot_baseline(current_dir: Path | str = AVRO_DIR, baseline_dir: Path | str = BASELINE_DIR) -> list[Path]:
    """Make the baseline an exact copy of the current .avsc tree (a deliberate contract change)."""
    current_dir, baseline_dir = Path(current_dir), Path(baseline_dir)
    load_schema_set(current_dir)  # never snapshot a tree that does not parse
    wanted = {p.relative_to(current_dir) for p in current_dir.rglob("*.avsc")}
    for stale in baseline_dir.rglob("*.avsc"):
        if stale.relative_to(baseline_dir) not in wanted:
            stale.unlink()
    written = []
    for rel in sorted(wanted):
        target = baseline_dir / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(current_dir / rel, target)
        written.append(target)
    return written

"""Schema evolution guard: baseline vs current, BACKWARD and FORWARD, via fastavro resolution."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from jobstream.schemas import AVRO_DIR, BASELINE_DIR, check_compatibility, snapshot_baseline
from jobstream.schemas.loader import load_schema_set
from jobstream.schemas_cli import app


@pytest.fixture()
def current(tmp_path: Path) -> Path:
    """A scratch copy of the real schemas to edit."""
    target = tmp_path / "avro"
    shutil.copytree(AVRO_DIR, target)
    return target


def _edit(root: Path, rel: str, change: Callable[[dict[str, Any]], None]) -> None:
    path = root / rel
    schema = json.loads(path.read_text())
    change(schema)
    path.write_text(json.dumps(schema))


def _field(schema: dict[str, Any], name: str) -> dict[str, Any]:
    return next(f for f in schema["fields"] if f["name"] == name)


def _found(problems: list[Any]) -> set[tuple[str, str]]:
    return {(p.schema, p.direction) for p in problems}


def test_real_schemas_are_compatible_with_the_baseline() -> None:
    problems = check_compatibility(AVRO_DIR, BASELINE_DIR)
    assert problems == [], "\n".join(map(str, problems))


def test_every_current_schema_is_guarded_by_the_baseline() -> None:
    missing = load_schema_set(AVRO_DIR).schemas.keys() - load_schema_set(BASELINE_DIR).schemas.keys()
    assert not missing, f"run `jobstream schemas snapshot` to guard {sorted(missing)}"


def test_new_field_without_default_breaks_backward(current: Path) -> None:
    _edit(current, "events/JobCancelled.avsc",
          lambda s: s["fields"].append({"name": "cancelled_by", "type": "string", "doc": "who"}))
    problems = check_compatibility(current, BASELINE_DIR)
    assert _found(problems) == {("jobstream.events.JobCancelled", "backward")}
    assert "cancelled_by" in problems[0].reason and "JobCancelled" in str(problems[0])


def test_new_field_in_a_shared_type_flags_every_user(current: Path) -> None:
    _edit(current, "common/RetryPolicy.avsc",
          lambda s: s["fields"].append({"name": "cap", "type": "int", "doc": "cap"}))
    flagged = {name for name, _ in _found(check_compatibility(current, BASELINE_DIR))}
    assert flagged == {
        "jobstream.common.RetryPolicy", "jobstream.common.JobSpec", "jobstream.common.JobPatch",
        "jobstream.commands.SubmitJob", "jobstream.commands.UpdateJob",
        "jobstream.events.JobSubmitted", "jobstream.events.JobUpdated",
        "jobstream.dispatch.JobReady", "jobstream.dispatch.Assignment", "jobstream.dispatch.DeadLetter",
        "jobstream.state.JobStateFields", "jobstream.state.IncompleteDecision", "jobstream.state.JobStateValue",
    }


def test_changed_field_type_breaks_both_directions(current: Path) -> None:
    _edit(current, "events/JobCancelled.avsc", lambda s: _field(s, "reason").update(type="int"))
    assert _found(check_compatibility(current, BASELINE_DIR)) == {
        ("jobstream.events.JobCancelled", "backward"),
        ("jobstream.events.JobCancelled", "forward"),
    }


def test_removed_required_field_breaks_forward(current: Path) -> None:
    _edit(current, "events/JobCancelled.avsc",
          lambda s: s.update(fields=[f for f in s["fields"] if f["name"] != "reason"]))
    assert _found(check_compatibility(current, BASELINE_DIR)) == {("jobstream.events.JobCancelled", "forward")}


def test_new_enum_symbol_breaks_forward(current: Path) -> None:
    _edit(current, "events/ScheduleSkipped.avsc", lambda s: _field(s, "reason")["type"]["symbols"].append("manual"))
    assert _found(check_compatibility(current, BASELINE_DIR)) == {("jobstream.events.ScheduleSkipped", "forward")}


def test_new_task_kind_in_the_union_breaks_forward(current: Path) -> None:
    def add_branch(schema: dict[str, Any]) -> None:
        _field(schema, "task")["type"].append(
            {"type": "record", "name": "jobstream.common.NoopTask", "doc": "d", "fields": []})

    _edit(current, "common/JobSpec.avsc", add_branch)
    assert ("jobstream.events.JobSubmitted", "forward") in _found(check_compatibility(current, BASELINE_DIR))


def test_new_optional_field_with_null_default_is_compatible(current: Path) -> None:
    _edit(current, "common/JobSpec.avsc", lambda s: s["fields"].append(
        {"name": "owner", "type": ["null", "string"], "default": None, "doc": "who owns it"}))
    _edit(current, "events/JobCancelled.avsc", lambda s: s["fields"].append(
        {"name": "tags", "type": {"type": "array", "items": "string"}, "default": [], "doc": "tags"}))
    assert check_compatibility(current, BASELINE_DIR) == []


def test_removed_schema_is_reported(current: Path) -> None:
    (current / "workers" / "WorkerDraining.avsc").unlink()
    assert _found(check_compatibility(current, BASELINE_DIR)) == {("jobstream.workers.WorkerDraining", "removed")}


def test_snapshot_mirrors_the_tree_and_accepts_the_change(current: Path, tmp_path: Path) -> None:
    baseline = tmp_path / "baseline"
    (baseline / "old").mkdir(parents=True)
    (baseline / "old" / "Stale.avsc").write_text("{}")
    _edit(current, "events/JobCancelled.avsc", lambda s: _field(s, "reason").update(type="int"))

    written = snapshot_baseline(current, baseline)

    assert len(written) == len(list(current.rglob("*.avsc"))) and not (baseline / "old" / "Stale.avsc").exists()
    rel = Path("events", "JobCancelled.avsc")
    assert (baseline / rel).read_text() == (current / rel).read_text()
    assert check_compatibility(current, baseline) == []


def test_cli_exit_codes(current: Path) -> None:
    check = ["check", "--current", str(current), "--baseline", str(BASELINE_DIR)]
    assert CliRunner().invoke(app, check).exit_code == 0
    _edit(current, "events/JobCancelled.avsc", lambda s: _field(s, "reason").update(type="int"))
    failed = CliRunner().invoke(app, check)
    assert failed.exit_code == 1
    assert "JobCancelled: backward incompatible" in failed.stderr

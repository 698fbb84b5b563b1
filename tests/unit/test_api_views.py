"""The API's views are the read model's rows: every column, with the row's type, and rows as the
projector writes them (the golden histories' rows) come out unchanged."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from jobstream.api.views import ExecutionView, JobView, WorkerView
from jobstream.projections.rows import ExecutionRow, JobRow, WorkerRow, columns
from tests.golden.history import FOLDER, read

VIEWS: dict[str, tuple[type[BaseModel], type[JobRow | ExecutionRow | WorkerRow]]] = {
    "jobs": (JobView, JobRow), "executions": (ExecutionView, ExecutionRow), "workers": (WorkerView, WorkerRow),
}


@pytest.mark.parametrize("table", sorted(VIEWS))
def test_a_view_has_every_column_of_its_row(table: str) -> None:
    view, row = VIEWS[table]
    assert tuple(view.model_fields)[:len(columns(row))] == columns(row)


@pytest.mark.parametrize("path", sorted(FOLDER.glob("[!b]*.jsonl")), ids=lambda path: path.stem)
def test_the_rows_of_a_golden_history_read_back_unchanged(path: Path) -> None:
    for table, rows in read(path).expected.rows.items():
        view, _ = VIEWS[table]
        for row in rows:
            shown = view.model_validate(row).model_dump(exclude={"waiting_reason", "command_id"})  # not columns
            assert shown == {name: _parsed(value) for name, value in row.items()}


def _parsed(value: Any) -> Any:
    """A JSON value as the view holds it: ISO-8601 strings are datetimes."""
    try:
        return datetime.fromisoformat(value) if isinstance(value, str) and value[4:5] == "-" else value
    except ValueError:
        return value

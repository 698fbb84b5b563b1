"""How the CLI prints the API's answers: rich tables whose id column is never cut (so an id can be
copied whatever the terminal's width) while the other columns wrap."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

JOB_FIELDS = ("job_id", "name", "status", "queue", "priority", "attempt", "tries", "execution_id", "worker_id",
              "waiting_reason", "next_run_at", "runs", "parent_job_id", "exit_code", "last_error", "result_json",
              "submitted_at", "started_at", "finished_at", "updated_at")
JOB_COLUMNS = ("job_id", "name", "status", "queue", "priority", "submitted_at")
EXECUTION_COLUMNS = ("execution_id", "status", "worker_id", "started_at", "finished_at", "exit_code")
WORKER_COLUMNS = ("worker_id", "status", "queues", "slots", "free_slots", "running_count", "last_heartbeat_at")
DEAD_LETTER_COLUMNS = ("job_id", "name", "queue", "attempt", "dead_lettered_at", "last_error")
TEMPLATE_COLUMNS = ("name", "latest", "description", "updated_at")
EVENT_COLUMNS = ("seq", "type", "occurred_at", "actor", "payload")


def cell(column: str, value: Any) -> str:
    """Text of one value: times to the second, in UTC; lists of names comma-separated."""
    if value is None:
        return ""
    if column.endswith("_at") and isinstance(value, str) and len(value) >= 19:
        return value[:19].replace("T", " ") + "Z"  # the API's times are UTC
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return ",".join(value)
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


def print_json(body: Any) -> None:
    typer.echo(json.dumps(body, indent=2))


def print_rows(rows: Sequence[dict[str, Any]], columns: Sequence[str], next_cursor: str | None = None) -> None:
    """A table whose first column (the id) keeps its full width; the others fold to fit."""
    table = Table(*columns)
    first = table.columns[0]
    first.no_wrap, first.overflow = True, "ignore"
    first.min_width = max([len(cell(columns[0], row.get(columns[0]))) for row in rows] + [len(columns[0])])
    for column in table.columns[1:]:
        column.overflow = "fold"
    for row in rows:
        table.add_row(*(Text(cell(column, row.get(column))) for column in columns))  # Text: no markup
    console = Console()
    console.print(table)
    if next_cursor:
        console.print(f"more: --cursor {next_cursor}", soft_wrap=True)


def print_page(page: dict[str, Any], columns: tuple[str, ...], as_json: bool) -> None:
    """A page of a list: the API's JSON, or a table of ``columns`` and the next cursor."""
    if as_json:
        print_json(page)
    else:
        print_rows(page.get("items", []), columns, page.get("next_cursor"))


def print_job(job: dict[str, Any], executions: Sequence[dict[str, Any]] = ()) -> None:
    """The job's fields that have a value, then its executions (their ids name their logs)."""
    table = Table(show_header=False, box=None)
    table.add_column(no_wrap=True)
    table.add_column(overflow="fold")
    for field in JOB_FIELDS:
        if job.get(field) is not None:
            table.add_row(Text(field, style="bold"), Text(cell(field, job[field])))
    console = Console()
    console.print(table)
    if executions:
        console.print()
        print_rows(executions, EXECUTION_COLUMNS)


def show_job(answer: tuple[int, dict[str, Any]], as_json: bool) -> None:
    """The answer of a command about a job: the job (a 202 was sent, but is not visible yet)."""
    status, job = answer
    if as_json:
        print_json(job)
        return
    print_job(job)
    if status == 202:
        Console(stderr=True).print("accepted: not visible yet; check again with `jobstream get`")

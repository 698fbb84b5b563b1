"""How the CLI prints the API's answers: rich tables, or the answer itself as JSON or YAML (``-o``).

A table never cuts an id (the first column: it must stay copyable whatever the terminal's width),
never breaks a short value (a status, a queue, a time) mid-word, and lets only free text (names,
errors, payloads) fold. When even that does not fit, the rightmost optional columns are left out,
and a line says which (``-o json`` shows everything).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from enum import StrEnum
from typing import Any

import typer
import yaml
from rich import box
from rich.console import Console
from rich.measure import Measurement
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
AUDIT_COLUMNS = ("at", "actor", "action", "target", "status", "role", "namespace", "address", "detail")
FREE_TEXT = frozenset({"name", "last_error", "payload", "waiting_reason", "description", "result_json", "queues",
                       "detail"})
KEPT = frozenset({"status"})  # left out last, after the id and the free text
FREE_TEXT_MIN = 8
STATUS_STYLES = {"completed": "green", "succeeded": "green", "active": "green", "failed": "bold red",
                 "timed_out": "red", "lost": "red", "dead_lettered": "bold red", "cancelled": "dim",
                 "deregistered": "dim", "running": "cyan", "queued": "yellow", "pending": "yellow",
                 "scheduled": "blue", "paused": "magenta", "draining": "magenta"}


class Format(StrEnum):
    TABLE = "table"
    JSON = "json"
    YAML = "yaml"


def cell(column: str, value: Any) -> str:
    """Text of one value: times to the second, in UTC; lists of names comma-separated."""
    if value is None:
        return ""
    if (column == "at" or column.endswith("_at")) and isinstance(value, str) and len(value) >= 19:
        return value[:19].replace("T", " ") + "Z"  # the API's times are UTC
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return ",".join(value)
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


def styled(column: str, value: Any) -> Text:
    """A cell as Text (never read as markup), a status in its colour."""
    text = cell(column, value)
    return Text(text, style=STATUS_STYLES.get(text, "") if column == "status" else "")


def print_data(body: Any, output: Format) -> None:
    """The API's answer as JSON or YAML, for scripts."""
    if output == Format.YAML:
        typer.echo(yaml.safe_dump(body, sort_keys=False, allow_unicode=True), nl=False)
    else:
        typer.echo(json.dumps(body, indent=2))


def print_json(body: Any) -> None:
    print_data(body, Format.JSON)


def build_table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> Table:
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, header_style="bold")
    for i, column in enumerate(columns):
        values = [cell(column, row.get(column)) for row in rows]
        widest = max([len(v) for v in values] + [len(column)])
        if column in FREE_TEXT and i > 0:
            table.add_column(column, overflow="fold", min_width=min(widest, FREE_TEXT_MIN))
        else:  # the id and short values: whole, on one line
            table.add_column(column, no_wrap=True, overflow="ignore" if i == 0 else "ellipsis", min_width=widest)
    for row in rows:
        table.add_row(*(styled(column, row.get(column)) for column in columns))
    return table


def fitting_columns(rows: Sequence[dict[str, Any]], columns: Sequence[str], console: Console) -> list[str]:
    """``columns`` less the rightmost optional ones, until the table's narrowest rendering fits."""
    shown = list(columns)
    optional = [c for c in reversed(columns[1:]) if c not in FREE_TEXT and c not in KEPT]
    optional += [c for c in reversed(columns[1:]) if c in FREE_TEXT]
    unbounded = console.options.update_width(1_000_000)  # a measurement is capped at the width it is given
    while optional and Measurement.get(console, unbounded, build_table(rows, shown)).minimum > console.width:
        shown.remove(optional.pop(0))
    return shown


def print_rows(rows: Sequence[dict[str, Any]], columns: Sequence[str], next_cursor: str | None = None) -> None:
    console = Console()
    shown = fitting_columns(rows, columns, console)
    console.print(build_table(rows, shown))
    hidden = [c for c in columns if c not in shown]
    if hidden:
        console.print(Text(f"not shown at this width: {', '.join(hidden)} (-o json shows everything)", style="dim"))
    if next_cursor:
        console.print(f"more: --cursor {next_cursor}", soft_wrap=True)


def print_page(page: dict[str, Any], columns: tuple[str, ...], output: Format) -> None:
    """A page of a list: a table of ``columns`` and the next cursor, or the API's answer."""
    if output != Format.TABLE:
        print_data(page, output)
    else:
        print_rows(page.get("items", []), columns, page.get("next_cursor"))


def print_fields(item: dict[str, Any], fields: Sequence[str] | None = None) -> None:
    """One item's fields that have a value, a line each."""
    table = Table(show_header=False, box=None)
    table.add_column(no_wrap=True)
    table.add_column(overflow="fold")
    for field in fields or list(item):
        if item.get(field) is not None:
            table.add_row(Text(field, style="bold"), styled(field, item[field]))
    Console().print(table)


def print_job(job: dict[str, Any], executions: Sequence[dict[str, Any]] = ()) -> None:
    """The job's fields that have a value, then its executions (their ids name their logs)."""
    print_fields(job, JOB_FIELDS)
    if executions:
        Console().print()
        print_rows(executions, EXECUTION_COLUMNS)


def show_job(answer: tuple[int, dict[str, Any]], output: Format) -> None:
    """The answer of a command about a job: the job (a 202 was sent, but is not visible yet)."""
    status, job = answer
    if output != Format.TABLE:
        print_data(job, output)
        return
    print_job(job)
    if status == 202:
        Console(stderr=True).print("accepted: not visible yet; check again with `jobstream get`")

"""CLI commands that talk to the HTTP API: submit, get, ls, cancel, events, patch, pause, resume,
clone, and cancel by filter.

``register(app)`` adds them to a Typer app; they reach ``JOBSTREAM_API_URL`` (or ``--api-url``)
with httpx and print rich tables, or the API's JSON with ``--json``.
"""

from __future__ import annotations

import json
from pathlib import PurePath
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

from jobstream.config import Settings

JOB_FIELDS = ("job_id", "name", "status", "queue", "priority", "attempt", "worker_id", "exit_code",
              "last_error", "submitted_at", "started_at", "finished_at", "updated_at")
LIST_COLUMNS = ("job_id", "name", "status", "queue", "priority", "submitted_at")

ApiUrl = Annotated[str | None, typer.Option("--api-url", help="API base URL [default: $JOBSTREAM_API_URL]")]
AsJson = Annotated[bool, typer.Option("--json", help="Print the API's JSON instead of a table.")]


class ClientError(Exception):
    """An answer to show the user instead of a traceback."""


class ApiClient:
    def __init__(self, base_url: str, transport: httpx.BaseTransport | None = None, timeout_s: float = 30.0) -> None:
        self.base_url = base_url
        self.http = httpx.Client(base_url=base_url, transport=transport, timeout=timeout_s)

    def call(self, method: str, path: str, **kwargs: Any) -> tuple[int, dict[str, Any]]:
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.HTTPError as error:
            raise ClientError(f"cannot reach the API at {self.base_url}: {error}") from None
        body = _json_or_text(response)
        if response.status_code >= 400:
            raise ClientError(describe_problem(response.status_code, body))
        return response.status_code, body

    def close(self) -> None:
        self.http.close()


def _json_or_text(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {"detail": response.text}
    return body if isinstance(body, dict) else {"items": body}


def describe_problem(status: int, problem: dict[str, Any]) -> str:
    """One line for an RFC 9457 problem, plus one per offending field."""
    lines = [f"{status} {problem.get('title', 'error')}: {problem.get('detail') or ''}".rstrip(": ")]
    for error in problem.get("errors") or []:
        lines.append(f"  {error.get('field', '?')}: {error.get('detail', '')}")
    return "\n".join(lines)


def parse_pairs(pairs: list[str] | None, option: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"expected KEY=VALUE, got {pair!r}", param_hint=option)
        out[key] = value
    return out


def default_name(argv: list[str]) -> str:
    """The program's base name: `/usr/bin/env` -> `env`, `"ls -l"` (with --shell) -> `ls`."""
    words = argv[0].split() if argv else []
    return PurePath(words[0]).name if words else "job"


def submission_body(argv: list[str], *, name: str | None, queue: str, priority: int, timeout: float | None,
                    labels: dict[str, str], env: dict[str, str], cwd: str | None, shell: bool,
                    idempotency_key: str | None, max_attempts: int | None) -> dict[str, Any]:
    task: dict[str, Any] = {"type": "shell", "argv": argv, "env": env, "shell": shell}
    if cwd is not None:
        task["cwd"] = cwd
    body: dict[str, Any] = {"name": name or default_name(argv), "queue": queue, "priority": priority, "task": task, "labels": labels}
    if timeout is not None:
        body["timeout_s"] = timeout
    if idempotency_key is not None:
        body["idempotency_key"] = idempotency_key
    if max_attempts is not None:
        body["retry"] = {"max_attempts": max_attempts}
    return body


def change_body(*, timeout: float | None = None, env: dict[str, str] | None = None, **fields: Any) -> dict[str, Any]:
    """The options given (None is "not given") as a JSON body."""
    body = {k: v for k, v in fields.items() if v is not None}
    if timeout is not None:
        body["timeout_s"] = timeout
    if env:
        body["env"] = env
    return body


# ---------------------------------------------------------------- output
def _cell(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


def print_json(body: Any) -> None:
    typer.echo(json.dumps(body, indent=2))


def print_job(job: dict[str, Any]) -> None:
    table = Table(show_header=False, box=None)
    for field in JOB_FIELDS:
        if job.get(field) is not None:
            table.add_row(f"[bold]{field}[/bold]", _cell(job[field]))
    Console().print(table)


def print_jobs(page: dict[str, Any]) -> None:
    table = Table(*LIST_COLUMNS)
    for job in page.get("items", []):
        table.add_row(*(_cell(job.get(column)) for column in LIST_COLUMNS))
    console = Console()
    console.print(table)
    if page.get("next_cursor"):
        console.print(f"more: --cursor {page['next_cursor']}")


def print_events(events: list[dict[str, Any]]) -> None:
    table = Table("seq", "type", "occurred_at", "actor", "payload")
    for event in events:
        table.add_row(str(event["seq"]), event["type"], event["occurred_at"], event["actor"],
                      _cell(event.get("payload")))
    Console().print(table)


# ---------------------------------------------------------------- commands
def register(app: typer.Typer, *, transport: httpx.BaseTransport | None = None) -> None:
    """Add submit, get, ls, cancel and events to ``app`` (``transport`` is for tests)."""

    def client(api_url: str | None) -> ApiClient:
        return ApiClient(api_url or Settings.from_env().api_url, transport)

    @app.command("submit")
    def submit(
        argv: Annotated[list[str], typer.Argument(help="The command to run; put it after `--`.")],
        name: Annotated[str | None, typer.Option(help="Job name [default: the program's name]")] = None,
        queue: Annotated[str, typer.Option(help="Queue")] = "default",
        priority: Annotated[int, typer.Option(help="1 (most urgent) to 10")] = 5,
        timeout: Annotated[float | None, typer.Option(help="Timeout in seconds")] = None,
        label: Annotated[list[str] | None, typer.Option(help="KEY=VALUE, repeatable")] = None,
        env: Annotated[list[str] | None, typer.Option(help="Environment KEY=VALUE, repeatable")] = None,
        cwd: Annotated[str | None, typer.Option(help="Working directory on the worker")] = None,
        shell: Annotated[bool, typer.Option("--shell", help="Run argv[0] with /bin/sh -c")] = False,
        idempotency_key: Annotated[str | None, typer.Option(help="Submitting the same key again is a no-op")] = None,
        max_attempts: Annotated[int | None, typer.Option(help="Attempts including the first")] = None,
        api_url: ApiUrl = None, as_json: AsJson = False,
    ) -> None:
        """Submit a shell job, e.g. `jobstream submit --name hello -- echo hi`."""
        body = submission_body(argv, name=name, queue=queue, priority=priority, timeout=timeout,
                               labels=parse_pairs(label, "--label"), env=parse_pairs(env, "--env"), cwd=cwd,
                               shell=shell, idempotency_key=idempotency_key, max_attempts=max_attempts)
        status, job = _run(client(api_url), "POST", "/v1/jobs", json=body)
        _show_job(job, as_json, accepted=status == 202)

    @app.command("get")
    def get(job_id: str, api_url: ApiUrl = None, as_json: AsJson = False) -> None:
        """Show one job."""
        _show_job(_run(client(api_url), "GET", f"/v1/jobs/{job_id}")[1], as_json)

    @app.command("ls")
    def ls(
        status: Annotated[list[str] | None, typer.Option(help="Filter by status, repeatable")] = None,
        queue: Annotated[str | None, typer.Option(help="Filter by queue")] = None,
        limit: Annotated[int, typer.Option(help="Jobs per page")] = 50,
        cursor: Annotated[str | None, typer.Option(help="next_cursor of the previous page")] = None,
        api_url: ApiUrl = None, as_json: AsJson = False,
    ) -> None:
        """List jobs, newest first."""
        params: dict[str, Any] = {"limit": limit, "status": status or [], "queue": queue, "cursor": cursor}
        params = {k: v for k, v in params.items() if v not in (None, [])}
        page = _run(client(api_url), "GET", "/v1/jobs", params=params)[1]
        if as_json:
            print_json(page)
        else:
            print_jobs(page)

    @app.command("cancel")
    def cancel(
        job_id: Annotated[str | None, typer.Argument(help="The job; or cancel by filter instead")] = None,
        reason: Annotated[str | None, typer.Option(help="Why")] = None,
        queue: Annotated[str | None, typer.Option(help="Every unfinished job of this queue")] = None,
        status: Annotated[str | None, typer.Option(help="... in this (unfinished) status")] = None,
        label: Annotated[str | None, typer.Option(help="... with this label, KEY=VALUE")] = None,
        name_prefix: Annotated[str | None, typer.Option(help="... whose name starts with this")] = None,
        api_url: ApiUrl = None, as_json: AsJson = False,
    ) -> None:
        """Cancel a job that has not finished, or every one matching all the filters (`--queue q`)."""
        filters = change_body(queue=queue, status=status, label=label, name_prefix=name_prefix)
        if (job_id is None) == (not filters):
            raise typer.BadParameter("give a JOB_ID or filters (--queue, --status, --label, --name-prefix)")
        if job_id is None:
            print_json(_run(client(api_url), "POST", "/v1/jobs:cancel", json=change_body(reason=reason, **filters))[1])
            return
        body = {"reason": reason} if reason else None
        status_code, job = _run(client(api_url), "POST", f"/v1/jobs/{job_id}/cancel", json=body)
        _show_job(job, as_json, accepted=status_code == 202)

    @app.command("patch")
    def patch(
        job_id: str,
        priority: Annotated[int | None, typer.Option(help="1 (most urgent) to 10")] = None,
        queue: Annotated[str | None, typer.Option(help="Queue")] = None,
        timeout: Annotated[float | None, typer.Option(help="Timeout in seconds")] = None,
        env: Annotated[list[str] | None, typer.Option(help="Environment KEY=VALUE, repeatable")] = None,
        api_url: ApiUrl = None, as_json: AsJson = False,
    ) -> None:
        """Change a job before it runs, e.g. `jobstream patch ID --priority 3`."""
        body = change_body(priority=priority, queue=queue, timeout=timeout, env=parse_pairs(env, "--env"))
        status, job = _run(client(api_url), "PATCH", f"/v1/jobs/{job_id}", json=body)
        _show_job(job, as_json, accepted=status == 202)

    @app.command("pause")
    def pause(job_id: str, api_url: ApiUrl = None, as_json: AsJson = False) -> None:
        """Pause a job until resumed."""
        status, job = _run(client(api_url), "POST", f"/v1/jobs/{job_id}/pause")
        _show_job(job, as_json, accepted=status == 202)

    @app.command("resume")
    def resume(job_id: str, api_url: ApiUrl = None, as_json: AsJson = False) -> None:
        """Resume a paused job."""
        status, job = _run(client(api_url), "POST", f"/v1/jobs/{job_id}/resume")
        _show_job(job, as_json, accepted=status == 202)

    @app.command("clone")
    def clone(
        job_id: str,
        name: Annotated[str | None, typer.Option(help="Name of the copy")] = None,
        priority: Annotated[int | None, typer.Option(help="1 (most urgent) to 10")] = None,
        queue: Annotated[str | None, typer.Option(help="Queue")] = None,
        label: Annotated[list[str] | None, typer.Option(help="KEY=VALUE, repeatable; replaces the labels")] = None,
        api_url: ApiUrl = None, as_json: AsJson = False,
    ) -> None:
        """Submit a copy of a job, with changes."""
        body = change_body(priority=priority, queue=queue, name=name,
                           labels=parse_pairs(label, "--label") if label else None)
        status, job = _run(client(api_url), "POST", f"/v1/jobs/{job_id}/clone", json=body)
        _show_job(job, as_json, accepted=status == 202)

    @app.command("events")
    def events(job_id: str, api_url: ApiUrl = None, as_json: AsJson = False) -> None:
        """Show a job's audit trail."""
        items = _run(client(api_url), "GET", f"/v1/jobs/{job_id}/events")[1].get("items", [])
        if as_json:
            print_json(items)
        else:
            print_events(items)


def make_jobs_app(transport: httpx.BaseTransport | None = None) -> typer.Typer:
    """A Typer app holding only the API commands, to mount as a sub-command group."""
    app = typer.Typer(no_args_is_help=True, help="Submit and inspect jobs through the HTTP API.")
    register(app, transport=transport)
    return app


def _run(api: ApiClient, method: str, path: str, **kwargs: Any) -> tuple[int, dict[str, Any]]:
    try:
        return api.call(method, path, **kwargs)
    except ClientError as error:
        typer.secho(f"error: {error}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from None
    finally:
        api.close()


def _show_job(job: dict[str, Any], as_json: bool, accepted: bool = False) -> None:
    if as_json:
        print_json(job)
        return
    print_job(job)
    if accepted:
        Console(stderr=True).print("accepted: not visible yet; check again with `jobstream get`")

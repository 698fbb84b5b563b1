"""CLI commands about jobs, through the HTTP API: submit, get, ls, cancel, retry, patch, pause, resume,
clone, events; ``register`` also adds ``workers``, ``dlq`` (ops_client.py), ``bulk`` (bulk_client.py),
``logs`` (logs_client.py) and ``audit`` (audit_client.py).

They print rich tables, or the API's JSON with ``--json``.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import httpx
import typer

from jobstream.api_client import Api, ApiClient, ApiUrl, ClientError, Format, Output, describe_problem
from jobstream.audit_client import register_audit
from jobstream.bulk_client import register_bulk
from jobstream.explain_client import register_explain
from jobstream.logs_client import register_logs
from jobstream.ops_client import register_ops
from jobstream.submit_body import (
    JobOptions,
    RetryOptions,
    ScheduleOptions,
    TaskOptions,
    parse_pairs,
    submission_body,
)
from jobstream.tables import (
    EVENT_COLUMNS,
    JOB_COLUMNS,
    print_data,
    print_fields,
    print_job,
    print_json,
    print_page,
    print_rows,
    show_job,
)
from jobstream.templates_client import register_templates
from jobstream.top import register_top

__all__ = ["ApiClient", "ClientError", "describe_problem", "make_jobs_app", "register"]


def change_body(*, timeout: float | None = None, env: dict[str, str] | None = None, **fields: Any) -> dict[str, Any]:
    """The options given (None is "not given") as a JSON body."""
    body = {k: v for k, v in fields.items() if v is not None}
    if timeout is not None:
        body["timeout_s"] = timeout
    if env:
        body["env"] = env
    return body


def register(app: typer.Typer, *, transport: httpx.BaseTransport | None = None) -> None:
    """Add the API's commands to ``app`` (``transport`` is for tests)."""
    api = Api(transport)
    _register_submit(app, api)
    _register_reads(app, api)
    _register_changes(app, api)
    register_ops(app, api)
    register_bulk(app, api)
    register_logs(app, api)
    register_templates(app, api)
    register_explain(app, api)
    register_top(app, api)
    register_audit(app, api)


def _show(api: Api, api_url: str | None, output: Format, method: str, path: str, **kwargs: Any) -> None:
    show_job(api.call(api_url, method, path, **kwargs), output)


def _register_submit(app: typer.Typer, api: Api) -> None:
    @app.command("submit")
    def submit(  # noqa: PLR0913 - one option per field of a job, as the API has them
        argv: Annotated[list[str] | None, typer.Argument(help="A command to run; put it after `--`.")] = None,
        python: Annotated[str | None, typer.Option(help="A Python task: MODULE:FUNCTION",
                                                   rich_help_panel="Task")] = None,
        arg: Annotated[list[str] | None, typer.Option(help="Positional argument of --python, repeatable; JSON "
                                                           "(5, true, '[1]') or else a string",
                                                      rich_help_panel="Task")] = None,
        kwarg: Annotated[list[str] | None, typer.Option(help="KEY=VALUE keyword argument of --python, repeatable; "
                                                             "VALUE as --arg", rich_help_panel="Task")] = None,
        inline: Annotated[bool, typer.Option("--inline", help="Run --python in the worker's process",
                                             rich_help_panel="Task")] = False,
        http: Annotated[str | None, typer.Option(help="An HTTP task: the URL to call", rich_help_panel="Task")] = None,
        method: Annotated[str | None, typer.Option(help="HTTP method (default: GET)", rich_help_panel="Task")] = None,
        header: Annotated[list[str] | None, typer.Option(help="HTTP header KEY=VALUE, repeatable",
                                                         rich_help_panel="Task")] = None,
        secret_header: Annotated[list[str] | None, typer.Option(help="NAME=SECRET: the HTTP header NAME holds the "
                                                                     "secret SECRET, repeatable",
                                                                rich_help_panel="Task")] = None,
        data: Annotated[str | None, typer.Option(help="HTTP request body", rich_help_panel="Task")] = None,
        expect_status: Annotated[list[int] | None, typer.Option(help="HTTP status that succeeds, repeatable "
                                                                     "(default: any 2xx)",
                                                                rich_help_panel="Task")] = None,
        env: Annotated[list[str] | None, typer.Option(help="Environment KEY=VALUE of the command or the Python "
                                                           "task's process, repeatable",
                                                      rich_help_panel="Task")] = None,
        secret_env: Annotated[list[str] | None, typer.Option(help="VAR=SECRET: the process's variable VAR holds "
                                                                  "the secret SECRET (see `jobstream secrets`), "
                                                                  "repeatable", rich_help_panel="Task")] = None,
        cwd: Annotated[str | None, typer.Option(help="Working directory of the command",
                                                rich_help_panel="Task")] = None,
        shell: Annotated[bool, typer.Option("--shell", help="Run the command with /bin/sh -c (where the "
                                                           "namespace allows it: quotas set --allow-shell)",
                                            rich_help_panel="Task")] = False,
        name: Annotated[str | None, typer.Option(help="Job name (default: the program, function or host)")] = None,
        queue: Annotated[str, typer.Option(help="Queue")] = "default",
        priority: Annotated[int, typer.Option(help="1 (most urgent) to 10")] = 5,
        timeout: Annotated[float | None, typer.Option(help="Timeout in seconds")] = None,
        label: Annotated[list[str] | None, typer.Option(help="KEY=VALUE, repeatable")] = None,
        requirement: Annotated[list[str] | None, typer.Option(help="cpu=N, memory_mb=N, or KEY=VALUE: a label the "
                                                                   "worker must have; repeatable")] = None,
        idempotency_key: Annotated[str | None,
                                   typer.Option(help="Submitting the same key again finds the first job")] = None,
        cron: Annotated[str | None, typer.Option(help="Cron schedule: 5 fields, or 6 with seconds first",
                                                 rich_help_panel="Schedule")] = None,
        every: Annotated[str | None, typer.Option(help="Interval: 5m, 'every 2 hours', PT1H",
                                                  rich_help_panel="Schedule")] = None,
        at: Annotated[str | None, typer.Option(help="One run at this RFC 3339 time",
                                               rich_help_panel="Schedule")] = None,
        tz: Annotated[str | None, typer.Option(help="Time zone of --cron (default: UTC)",
                                               rich_help_panel="Schedule")] = None,
        after: Annotated[list[str] | None, typer.Option(help="Run once this job succeeded; repeatable",
                                                        rich_help_panel="Dependencies")] = None,
        after_completed: Annotated[list[str] | None, typer.Option(help="Run once this job ended, failed or not; "
                                                                       "repeatable",
                                                                  rich_help_panel="Dependencies")] = None,
        upstreams_later: Annotated[bool, typer.Option("--upstreams-later", help="The --after jobs will be submitted "
                                                      "later (else an unknown one is an error)",
                                                      rich_help_panel="Dependencies")] = False,
        retry: Annotated[int | None, typer.Option("--retry", "--max-attempts", help="Attempts in all, the first "
                                                  "included", rich_help_panel="Retry")] = None,
        backoff: Annotated[float | None, typer.Option(help="Seconds before the first retry (default: 1)",
                                                      rich_help_panel="Retry")] = None,
        max_backoff: Annotated[float | None, typer.Option(help="Longest wait between retries (default: 300)",
                                                          rich_help_panel="Retry")] = None,
        dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the request's JSON body; send nothing")] = False,
        api_url: ApiUrl = None, output: Output = Format.TABLE,
    ) -> None:
        """Submit a job: `jobstream submit -- echo hi`, `--python mod:func --arg 1`, or `--http URL`."""
        task = TaskOptions(argv=argv or [], python=python, args=arg or [], kwargs=kwarg or [], inline=inline,
                           http=http, method=method, headers=header or [], secret_headers=secret_header or [],
                           data=data, expect=expect_status or [],
                           env=env or [], secret_env=secret_env or [], cwd=cwd, shell=shell)
        job = JobOptions(name=name, queue=queue, priority=priority, timeout=timeout, labels=label or [],
                         idempotency_key=idempotency_key, requirements=requirement or [], after=after or [],
                         after_completed=after_completed or [], upstreams_later=upstreams_later)
        body = submission_body(job, task, ScheduleOptions(cron=cron, every=every, at=at, tz=tz),
                               RetryOptions(attempts=retry, backoff=backoff, max_backoff=max_backoff))
        if dry_run:  # one line, to read or to pipe into curl -d @-
            typer.echo(json.dumps(body))
            return
        _show(api, api_url, output, "POST", "/v1/jobs", json=body)


def _register_reads(app: typer.Typer, api: Api) -> None:
    @app.command("get")
    def get(job_id: str, api_url: ApiUrl = None, output: Output = Format.TABLE) -> None:
        """Show one job and its executions."""
        job = api.call(api_url, "GET", f"/v1/jobs/{job_id}")[1]
        executions = api.call(api_url, "GET", f"/v1/jobs/{job_id}/executions")[1].get("items", [])
        if output != Format.TABLE:
            print_data({**job, "executions": executions}, output)
        else:
            print_job(job, executions)

    @app.command("ls")
    def ls(
        status: Annotated[list[str] | None, typer.Option(help="Filter by status, repeatable")] = None,
        queue: Annotated[str | None, typer.Option(help="Filter by queue")] = None,
        label: Annotated[list[str] | None, typer.Option(help="Filter by label KEY=VALUE, repeatable")] = None,
        parent: Annotated[str | None, typer.Option(help="The runs of this recurring job")] = None,
        since: Annotated[str | None, typer.Option(help="Submitted at or after (ISO 8601 with its zone)")] = None,
        until: Annotated[str | None, typer.Option(help="Submitted before (ISO 8601 with its zone)")] = None,
        limit: Annotated[int, typer.Option(help="Jobs per page")] = 50,
        cursor: Annotated[str | None, typer.Option(help="next_cursor of the previous page")] = None,
        api_url: ApiUrl = None, output: Output = Format.TABLE,
    ) -> None:
        """List jobs, the last submitted first."""
        parse_pairs(label, "--label")
        params: dict[str, Any] = {"limit": limit, "status": status or [], "queue": queue, "label": label or [],
                                  "parent_job_id": parent, "submitted_since": since, "submitted_until": until,
                                  "cursor": cursor}
        page = api.call(api_url, "GET", "/v1/jobs", params={k: v for k, v in params.items() if v not in (None, [])})[1]
        print_page(page, JOB_COLUMNS, output)

    @app.command("command")
    def command(command_id: str, api_url: ApiUrl = None, output: Output = Format.JSON) -> None:
        """What became of a command sent by any producer: accepted (its job, its events), rejected or poisoned."""
        result = api.call(api_url, "GET", f"/v1/commands/{command_id}")[1]
        if output != Format.TABLE:
            print_data(result, output)
        else:
            print_fields(result)

    @app.command("events")
    def events(job_id: str, api_url: ApiUrl = None, output: Output = Format.TABLE) -> None:
        """Show a job's audit trail."""
        items = api.call(api_url, "GET", f"/v1/jobs/{job_id}/events")[1].get("items", [])
        if output != Format.TABLE:
            print_data(items, output)
        else:
            print_rows(items, EVENT_COLUMNS)


def _register_changes(app: typer.Typer, api: Api) -> None:
    @app.command("cancel")
    def cancel(
        job_id: Annotated[str | None, typer.Argument(help="The job; or cancel by filter instead")] = None,
        reason: Annotated[str | None, typer.Option(help="Why")] = None,
        queue: Annotated[str | None, typer.Option(help="Every unfinished job of this queue")] = None,
        status: Annotated[str | None, typer.Option(help="... in this (unfinished) status")] = None,
        label: Annotated[str | None, typer.Option(help="... with this label, KEY=VALUE")] = None,
        name_prefix: Annotated[str | None, typer.Option(help="... whose name starts with this")] = None,
        api_url: ApiUrl = None, output: Output = Format.TABLE,
    ) -> None:
        """Cancel a job that has not finished, or every one matching all the filters (`--queue q`)."""
        filters = change_body(queue=queue, status=status, label=label, name_prefix=name_prefix)
        if (job_id is None) == (not filters):
            raise typer.BadParameter("give a JOB_ID or filters (--queue, --status, --label, --name-prefix)")
        if job_id is None:
            print_json(api.call(api_url, "POST", "/v1/jobs:cancel", json=change_body(reason=reason, **filters))[1])
            return
        _show(api, api_url, output, "POST", f"/v1/jobs/{job_id}/cancel", json={"reason": reason} if reason else None)

    @app.command("retry")
    def retry(job_id: str, api_url: ApiUrl = None, output: Output = Format.TABLE) -> None:
        """Run a failed job again, as a new attempt."""
        _show(api, api_url, output, "POST", f"/v1/jobs/{job_id}/retry")

    @app.command("patch")
    def patch(
        job_id: str,
        priority: Annotated[int | None, typer.Option(help="1 (most urgent) to 10")] = None,
        queue: Annotated[str | None, typer.Option(help="Queue")] = None,
        timeout: Annotated[float | None, typer.Option(help="Timeout in seconds")] = None,
        env: Annotated[list[str] | None, typer.Option(help="Environment KEY=VALUE, repeatable")] = None,
        api_url: ApiUrl = None, output: Output = Format.TABLE,
    ) -> None:
        """Change a job before it runs, e.g. `jobstream patch ID --priority 3`."""
        body = change_body(priority=priority, queue=queue, timeout=timeout, env=parse_pairs(env, "--env"))
        _show(api, api_url, output, "PATCH", f"/v1/jobs/{job_id}", json=body)

    @app.command("pause")
    def pause(job_id: str, api_url: ApiUrl = None, output: Output = Format.TABLE) -> None:
        """Hold back a job waiting for its schedule (cron, every, at) until resumed."""
        _show(api, api_url, output, "POST", f"/v1/jobs/{job_id}/pause")

    @app.command("resume")
    def resume(job_id: str, api_url: ApiUrl = None, output: Output = Format.TABLE) -> None:
        """Resume a paused job."""
        _show(api, api_url, output, "POST", f"/v1/jobs/{job_id}/resume")

    @app.command("clone")
    def clone(
        job_id: str,
        name: Annotated[str | None, typer.Option(help="Name of the copy")] = None,
        priority: Annotated[int | None, typer.Option(help="1 (most urgent) to 10")] = None,
        queue: Annotated[str | None, typer.Option(help="Queue")] = None,
        label: Annotated[list[str] | None, typer.Option(help="KEY=VALUE, repeatable; replaces the labels")] = None,
        api_url: ApiUrl = None, output: Output = Format.TABLE,
    ) -> None:
        """Submit a copy of a job, with changes."""
        body = change_body(priority=priority, queue=queue, name=name,
                           labels=parse_pairs(label, "--label") if label else None)
        _show(api, api_url, output, "POST", f"/v1/jobs/{job_id}/clone", json=body)


def make_jobs_app(transport: httpx.BaseTransport | None = None) -> typer.Typer:
    """A Typer app holding only the API commands, to mount as a sub-command group."""
    app = typer.Typer(no_args_is_help=True, help="Submit and inspect jobs through the HTTP API.")
    register(app, transport=transport)
    return app

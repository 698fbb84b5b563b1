"""CLI commands for operators, through the HTTP API: ``workers ls/drain`` and ``dlq ls/redrive``."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from jobstream.api_client import Api, ApiUrl, Format, Output
from jobstream.submit_body import parse_pairs
from jobstream.tables import DEAD_LETTER_COLUMNS, WORKER_COLUMNS, print_page, show_job

Cursor = Annotated[str | None, typer.Option(help="next_cursor of the previous page")]


def register_ops(app: typer.Typer, api: Api) -> None:
    workers = typer.Typer(no_args_is_help=True, help="Workers: list them, drain one.")
    dlq = typer.Typer(no_args_is_help=True, help="Dead letters: jobs that failed for good after their retries.")
    app.add_typer(workers, name="workers")
    app.add_typer(dlq, name="dlq")

    @workers.command("ls")
    def workers_ls(
        status: Annotated[list[str] | None, typer.Option(help="Filter by status (active, draining, lost, "
                                                              "deregistered), repeatable")] = None,
        label: Annotated[list[str] | None, typer.Option(help="Filter by label KEY=VALUE, repeatable")] = None,
        limit: Annotated[int, typer.Option(help="Workers per page")] = 100,
        cursor: Cursor = None, api_url: ApiUrl = None, output: Output = Format.TABLE,
    ) -> None:
        """List workers by id."""
        parse_pairs(label, "--label")
        params: dict[str, Any] = {"status": status or [], "label": label or [], "limit": limit, "cursor": cursor}
        page = api.call(api_url, "GET", "/v1/workers", params={k: v for k, v in params.items() if v not in (None, [])})
        print_page(page[1], WORKER_COLUMNS, output)

    @workers.command("drain")
    def workers_drain(worker_id: str, reason: Annotated[str, typer.Option(help="Why")] = "",
                      api_url: ApiUrl = None) -> None:
        """Ask a worker to finish what it runs, take nothing new, then leave."""
        answer = api.call(api_url, "POST", f"/v1/workers/{worker_id}/drain", params={"reason": reason})[1]
        typer.echo(f"drain requested: {answer.get('worker_id', worker_id)} (was {answer.get('status', '?')})")

    @dlq.command("ls")
    def dlq_ls(limit: Annotated[int, typer.Option(help="Jobs per page")] = 50, cursor: Cursor = None,
               api_url: ApiUrl = None, output: Output = Format.TABLE) -> None:
        """List dead-lettered jobs (failed for good after their retries), newest job first."""
        params = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        print_page(api.call(api_url, "GET", "/v1/dlq", params=params)[1], DEAD_LETTER_COLUMNS, output)

    @dlq.command("redrive")
    def dlq_redrive(job_id: str, api_url: ApiUrl = None, output: Output = Format.TABLE) -> None:
        """Run a dead-lettered job again, as a new attempt."""
        show_job(api.call(api_url, "POST", f"/v1/dlq/{job_id}/redrive"), output)

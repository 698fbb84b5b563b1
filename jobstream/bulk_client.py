"""``jobstream bulk cancel|retry|redrive``: an action on every job a filter selects, through the
API's bulk routes: ``--dry-run`` first (how many, which), then ``--expected-count N`` to act,
refused if more than N match by then."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import typer

from jobstream.api_client import Api, ApiUrl, Format, Output
from jobstream.submit_body import parse_pairs
from jobstream.tables import print_data


class BulkAction(StrEnum):
    CANCEL = "cancel"
    RETRY = "retry"
    REDRIVE = "redrive"


# The API's routes (api/routes_bulk.py BULK_PATHS; tests/unit/test_cli_parity.py holds them equal)
BULK_PATHS = {"cancel": "/v1/jobs:bulk-cancel", "retry": "/v1/jobs:bulk-retry", "redrive": "/v1/dlq:redrive"}


def register_bulk(app: typer.Typer, api: Api) -> None:
    @app.command("bulk")
    def bulk(  # noqa: PLR0913 - one option per filter, as the API has them
        action: Annotated[BulkAction, typer.Argument(help="cancel (unfinished jobs), retry (failed jobs) or "
                                                          "redrive (dead letters)")],
        status: Annotated[list[str] | None, typer.Option(help="Filter by status, repeatable")] = None,
        queue: Annotated[str | None, typer.Option(help="Filter by queue")] = None,
        name_prefix: Annotated[str | None, typer.Option(help="Filter by the start of the name")] = None,
        label: Annotated[list[str] | None, typer.Option(help="Filter by label KEY=VALUE, repeatable")] = None,
        priority: Annotated[int | None, typer.Option(help="Filter by priority, 1 to 10")] = None,
        since: Annotated[str | None, typer.Option(help="Submitted at or after (ISO 8601 with its zone)")] = None,
        until: Annotated[str | None, typer.Option(help="Submitted before (ISO 8601 with its zone)")] = None,
        dry_run: Annotated[bool, typer.Option("--dry-run", help="Count and show the jobs; send nothing")] = False,
        expected_count: Annotated[int | None, typer.Option(help="Act, unless more jobs match than this (the "
                                                                "dry run's count)")] = None,
        reason: Annotated[str | None, typer.Option(help="Why (cancel)")] = None,
        request_id: Annotated[str | None, typer.Option(help="Retrying with it sends nothing twice")] = None,
        api_url: ApiUrl = None, output: Output = Format.TABLE,
    ) -> None:
        """Act on every job of the namespace matching all the filters: `--dry-run` first, then
        `--expected-count N` with the count it printed, e.g. `jobstream bulk cancel --queue q --dry-run`."""
        if dry_run == (expected_count is not None):
            raise typer.BadParameter("give --dry-run, or --expected-count N to act (N: the dry run's count)")
        parse_pairs(label, "--label")
        body = {"status": status, "queue": queue, "name_prefix": name_prefix, "label": label, "priority": priority,
                "submitted_since": since, "submitted_until": until, "dry_run": dry_run,
                "expected_count": expected_count, "reason": reason, "request_id": request_id}
        answer = api.call(api_url, "POST", BULK_PATHS[action], json=_given(body))[1]
        if output != Format.TABLE:
            print_data(answer, output)
        else:
            typer.echo(_summary(action, answer))


def _given(body: dict[str, Any]) -> dict[str, Any]:
    """The options given (0 is a count given; False and None are not)."""
    return {k: v for k, v in body.items() if v is not None and v is not False and v != []}


def _summary(action: BulkAction, answer: dict[str, Any]) -> str:
    if answer.get("dry_run"):
        shown = "".join(f"\n  {job_id}" for job_id in answer.get("sample", []))
        return (f"{action} would act on {answer['matched']} jobs (nothing sent); to act, repeat with "
                f"--expected-count {answer['matched']} instead of --dry-run.{shown}")
    return f"{action} sent to {answer['requested']} of {answer['matched']} matching jobs"

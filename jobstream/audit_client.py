"""``jobstream audit``: the API's audit trail (``GET /v1/audit``, for admins), newest first."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from jobstream.api_client import Api, ApiUrl, Format, Output
from jobstream.core.keys import parse_duration
from jobstream.tables import AUDIT_COLUMNS, print_page

Cursor = Annotated[str | None, typer.Option(help="next_cursor of the previous page")]


def since_param(since: str) -> str:
    """``--since``: a duration back from now (``1h``, ``30m``, ``7d``) or a time the API reads (ISO 8601)."""
    try:
        return (datetime.now(UTC) - parse_duration(since)).isoformat()
    except ValueError:
        return since


def register_audit(app: typer.Typer, api: Api) -> None:
    @app.command("audit")
    def audit(
        actor: Annotated[str | None, typer.Option(help="who: key:<key id> or jwt:<subject>")] = None,
        action: Annotated[str | None, typer.Option(help="the operation, e.g. cancel_job, submit_job")] = None,
        since: Annotated[str | None, typer.Option(help="entries at or after: 1h, 7d, or an ISO 8601 time")] = None,
        limit: Annotated[int, typer.Option(min=1, max=1000, help="entries per page")] = 100,
        cursor: Cursor = None, api_url: ApiUrl = None, output: Output = Format.TABLE,
    ) -> None:
        """Who did what through the API, refused attempts (401, 403, 429) included, newest first
        (admins; the caller's namespace)."""
        params = {"actor": actor, "action": action, "since": since and since_param(since), "limit": limit,
                  "cursor": cursor}
        page = api.call(api_url, "GET", "/v1/audit", params={k: v for k, v in params.items() if v is not None})
        print_page(page[1], AUDIT_COLUMNS, output)

"""The CLI's HTTP client of the API: one call, problems as messages instead of tracebacks.

Commands reach ``JOBSTREAM_API_URL`` (or ``--api-url``); ``Api`` opens a client per command (a
transport can be given, for tests).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from jobstream.config import Settings
from jobstream.credentials import token_for
from jobstream.sdk.client import verifying
from jobstream.sdk.errors import ClientError, describe_problem, json_or_text
from jobstream.tables import Format

__all__ = ["Api", "ApiClient", "ClientError", "Format", "Output", "describe_problem", "fail"]

ApiUrl = Annotated[str | None, typer.Option("--api-url", help="API base URL (default: $JOBSTREAM_API_URL)")]
Output = Annotated[Format, typer.Option("--output", "-o", case_sensitive=False,
                                        help="table, or the API's answer as json or yaml")]


class ApiClient:
    def __init__(self, base_url: str, transport: httpx.BaseTransport | None = None, timeout_s: float = 30.0,
                 token: str | None = None, ca_file: Path | None = None) -> None:
        self.base_url = base_url
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.Client(base_url=base_url, transport=transport, timeout=timeout_s, headers=headers,
                                 verify=verifying(ca_file))

    def call(self, method: str, path: str, **kwargs: Any) -> tuple[int, dict[str, Any]]:
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.HTTPError as error:
            raise ClientError(f"cannot reach the API at {self.base_url}: {error}") from None
        body = json_or_text(response)
        if response.status_code >= 400:
            raise ClientError(describe_problem(response.status_code, body), response.status_code, body)
        return response.status_code, body

    def close(self) -> None:
        self.http.close()


def fail(error: ClientError) -> typer.Exit:
    """Print the error the way every command does; raise what this returns."""
    typer.secho(f"error: {error}", fg=typer.colors.RED, err=True)
    return typer.Exit(1)


class Api:
    """Opens the API client of one command (the API's URL is resolved when a command runs)."""

    def __init__(self, transport: httpx.BaseTransport | None = None) -> None:
        self.transport = transport

    def client(self, api_url: str | None) -> ApiClient:
        settings = Settings.from_env()
        url = api_url or settings.api_url
        return ApiClient(url, self.transport, token=token_for(settings, url), ca_file=settings.ca_file)

    def call(self, api_url: str | None, method: str, path: str, **kwargs: Any) -> tuple[int, dict[str, Any]]:
        """One request; a problem is printed and exits 1."""
        api = self.client(api_url)
        try:
            return api.call(method, path, **kwargs)
        except ClientError as error:
            raise fail(error) from None
        finally:
            api.close()

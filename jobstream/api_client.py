"""The CLI's HTTP client of the API: one call, problems as messages instead of tracebacks.

Commands reach ``JOBSTREAM_API_URL`` (or ``--api-url``); ``Api`` opens a client per command (a
transport can be given, for tests).
"""

from __future__ import annotations

from typing import Annotated, Any

import httpx
import typer

from jobstream.config import Settings
from jobstream.credentials import token_for

ApiUrl = Annotated[str | None, typer.Option("--api-url", help="API base URL (default: $JOBSTREAM_API_URL)")]
AsJson = Annotated[bool, typer.Option("--json", help="Print the API's JSON instead of a table.")]


class ClientError(Exception):
    """An answer to show the user instead of a traceback (``status``: the API's, if it answered)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class ApiClient:
    def __init__(self, base_url: str, transport: httpx.BaseTransport | None = None, timeout_s: float = 30.0,
                 token: str | None = None) -> None:
        self.base_url = base_url
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.Client(base_url=base_url, transport=transport, timeout=timeout_s, headers=headers)

    def call(self, method: str, path: str, **kwargs: Any) -> tuple[int, dict[str, Any]]:
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.HTTPError as error:
            raise ClientError(f"cannot reach the API at {self.base_url}: {error}") from None
        body = _json_or_text(response)
        if response.status_code >= 400:
            raise ClientError(describe_problem(response.status_code, body), response.status_code)
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
        return ApiClient(url, self.transport, token=token_for(settings, url))

    def call(self, api_url: str | None, method: str, path: str, **kwargs: Any) -> tuple[int, dict[str, Any]]:
        """One request; a problem is printed and exits 1."""
        api = self.client(api_url)
        try:
            return api.call(method, path, **kwargs)
        except ClientError as error:
            raise fail(error) from None
        finally:
            api.close()

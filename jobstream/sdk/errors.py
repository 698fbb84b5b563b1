"""What an API answer that is not a success becomes: one exception, with the RFC 9457 problem it carried."""

from __future__ import annotations

from typing import Any

import httpx


class ClientError(Exception):
    """An answer to show the user instead of a traceback (``status``: the API's, if it answered;
    ``problem``: its problem+json body)."""

    def __init__(self, message: str, status: int | None = None, problem: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.problem = problem or {}


class WaitTimeout(ClientError, TimeoutError):
    """``wait`` gave up before the job ended; ``job`` is the job as it last was."""

    def __init__(self, job: dict[str, Any], timeout_s: float) -> None:
        super().__init__(f"job {job.get('job_id')} is still {job.get('status')} after {timeout_s:g} s")
        self.job = job


def json_or_text(response: httpx.Response) -> dict[str, Any]:
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


def checked(response: httpx.Response) -> dict[str, Any]:
    """The answer's JSON body, or a ``ClientError`` describing its problem."""
    body = json_or_text(response)
    if response.status_code >= 400:
        raise ClientError(describe_problem(response.status_code, body), response.status_code, body)
    return body

"""RFC 9457 problem details for every error the API answers, and the handlers that produce them.

Nothing a client sends should end in a 500: malformed JSON is a 400, wrong shapes and types a
422 naming each field, a database that does not answer a 503.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from psycopg_pool import PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from jobstream.api.store import ReadModelDown

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
LOCATIONS = frozenset({"body", "query", "path", "header", "cookie"})
TASK_TYPES = frozenset({"shell", "http", "python"})
TITLES = {400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed", 409: "Conflict",
          413: "Content Too Large", 415: "Unsupported Media Type", 422: "Unprocessable Content",
          500: "Internal Server Error", 503: "Service Unavailable"}


def problem_type(slug: str) -> str:
    return f"urn:jobstream:problem:{slug}"


class ApiProblem(Exception):
    """Raise from a route to answer with a problem document."""

    def __init__(self, status: int, slug: str, detail: str, *, title: str | None = None,
                 errors: list[dict[str, str]] | None = None, headers: dict[str, str] | None = None,
                 **extra: Any) -> None:
        super().__init__(detail)
        self.status, self.slug, self.detail = status, slug, detail
        self.title = title or TITLES.get(status, "Error")
        self.errors, self.headers, self.extra = errors, headers, extra


def problem_response(request: Request | None, status: int, slug: str | None, detail: str | None, *,
                     title: str | None = None, errors: list[dict[str, str]] | None = None,
                     headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {
        "type": problem_type(slug) if slug else "about:blank",
        "title": title or TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    if request is not None:
        body["instance"] = request.url.path
    if errors is not None:
        body["errors"] = errors
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def field_error(field: str, detail: str) -> dict[str, str]:
    return {"field": field, "pointer": "#/" + field.replace(".", "/"), "detail": detail}


def loc_to_paths(loc: Sequence[int | str]) -> tuple[str, str]:
    """(dotted field, JSON pointer) of a pydantic error location, without the request part.

    The dotted field names fields only ("task.argv"); the pointer keeps list indexes too.
    The discriminator tag pydantic inserts after ``task`` ("task.shell.argv") is dropped.
    """
    parts = list(loc[1:] if loc and loc[0] in LOCATIONS else loc)
    if len(parts) > 1 and parts[0] == "task" and parts[1] in TASK_TYPES:
        del parts[1]
    parts = [p for p in parts if p != "[key]"]
    field = ".".join(str(p) for p in parts if not isinstance(p, int)) or "body"
    pointer = "#/" + "/".join(str(p) for p in parts)
    return field, pointer


def validation_errors(errors: Sequence[Any]) -> list[dict[str, str]]:
    out = []
    for error in errors:
        field, pointer = loc_to_paths(error.get("loc", ()))
        out.append({"field": field, "pointer": pointer, "detail": str(error.get("msg", "invalid"))})
    return out


async def on_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiProblem)
    return problem_response(request, exc.status, exc.slug, exc.detail, title=exc.title, errors=exc.errors,
                            headers=exc.headers, **exc.extra)


async def _on_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    broken = next((e for e in errors if e.get("type") == "json_invalid"), None)
    if broken is not None:
        reason = (broken.get("ctx") or {}).get("error", "invalid JSON")
        position = broken.get("loc", ("body", "?"))[-1]
        return problem_response(request, 400, "malformed-json", f"malformed JSON at position {position}: {reason}")
    return problem_response(request, 422, "validation", "the request is not valid; see errors",
                            errors=validation_errors(errors))


async def _on_http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else None
    return problem_response(request, exc.status_code, None, detail, headers=getattr(exc, "headers", None))


async def _on_unavailable(request: Request, exc: Exception) -> JSONResponse:
    # Not logged here: the read model's gate logs the outage once, not once per request.
    return problem_response(request, 503, "unavailable", "the read model database does not answer",
                            headers={"Retry-After": "1"})


async def _on_no_tables(request: Request, exc: Exception) -> JSONResponse:
    return problem_response(request, 503, "unavailable", "the read model is not set up yet: its projector creates "
                            "its tables when it starts", headers={"Retry-After": "1"})


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem_response(request, 500, "internal", "an unexpected error occurred")


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiProblem, on_problem)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(psycopg.OperationalError, _on_unavailable)
    app.add_exception_handler(psycopg.errors.UndefinedTable, _on_no_tables)
    app.add_exception_handler(PoolTimeout, _on_unavailable)
    app.add_exception_handler(ReadModelDown, _on_unavailable)
    app.add_exception_handler(Exception, _on_unexpected)

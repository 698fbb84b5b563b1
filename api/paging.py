"""Opaque keyset cursors: the last key of a page, versioned and base64url-encoded."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from typing import Any

from jobstream.api.problems import ApiProblem, field_error

PREFIX = "k1:"
MAX_CURSOR = 1000


def encode_cursor(key: str) -> str:
    return base64.urlsafe_b64encode((PREFIX + key).encode()).decode().rstrip("=")


def _not_ours() -> ApiProblem:
    return ApiProblem(422, "validation", "the request is not valid; see errors",
                      errors=[field_error("cursor", "not a cursor this API returned")])


def decode_cursor(cursor: str | None) -> str | None:
    """The key a cursor stands for; a 422 naming ``cursor`` if it is not one of ours."""
    if cursor is None or cursor == "":
        return None
    try:
        if len(cursor) > MAX_CURSOR:
            raise ValueError("too long")
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raw = ""
    if not raw.startswith(PREFIX) or "\x00" in raw or len(raw) == len(PREFIX):
        raise _not_ours()
    return raw[len(PREFIX):]


def decode_pair_cursor(cursor: str | None) -> tuple[str, str] | None:
    """The two-part key (a sort value, the id) a cursor of ``json.dumps([a, b])`` stands for; a 422
    naming ``cursor`` if it is not one."""
    raw = decode_cursor(cursor)
    if raw is None:
        return None
    try:
        first, second = json.loads(raw)
    except ValueError:
        raise _not_ours() from None
    if not isinstance(first, str) or not isinstance(second, str):
        raise _not_ours()
    return first, second


def next_cursor(rows: Sequence[dict[str, Any]], limit: int,
                key: str | Callable[[dict[str, Any]], str]) -> tuple[list[dict[str, Any]], str | None]:
    """Rows of one page (fetched with ``limit + 1``) and the cursor of the next, if any; ``key`` is
    the column holding the key, or makes the key from the row."""
    if len(rows) <= limit:
        return list(rows), None
    page = list(rows[:limit])
    last = key(page[-1]) if callable(key) else str(page[-1][key])
    return page, encode_cursor(last)

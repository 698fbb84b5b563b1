"""Opaque keyset cursors: the last key of a page, versioned and base64url-encoded."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import Any

from jobstream.api.problems import ApiProblem, field_error

PREFIX = "k1:"
MAX_CURSOR = 1000


def encode_cursor(key: str) -> str:
    return base64.urlsafe_b64encode((PREFIX + key).encode()).decode().rstrip("=")


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
        raise ApiProblem(422, "validation", "the request is not valid; see errors",
                         errors=[field_error("cursor", "not a cursor this API returned")])
    return raw[len(PREFIX):]


def next_cursor(rows: Sequence[dict[str, Any]], limit: int, key: str) -> tuple[list[dict[str, Any]], str | None]:
    """Rows of one page (fetched with ``limit + 1``) and the cursor of the next, if any."""
    if len(rows) <= limit:
        return list(rows), None
    page = list(rows[:limit])
    return page, encode_cursor(str(page[-1][key]))

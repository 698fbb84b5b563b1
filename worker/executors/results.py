"""Where a result goes: inline on the report when small, else to the logs topic with a reference.

Events stay small: a result over ``inline_result_bytes`` travels as ``result`` chunks of the
execution's log, and ``result_json`` holds ``{"ref": "logs", "execution_id", "stream": "result",
"bytes"}``. Read it back with ``GET /v1/executions/{id}/logs`` (chunks whose stream is result).
"""

from __future__ import annotations

import json


def result_reference(execution_id: str, size: int) -> str:
    return json.dumps({"ref": "logs", "execution_id": execution_id, "stream": "result", "bytes": size})


def place_result(result_json: str | None, execution_id: str, inline_bytes: int) -> tuple[str | None, str | None]:
    """(what the report carries, what goes to the logs topic instead, if anything)."""
    if result_json is None:
        return None, None
    size = len(result_json.encode())
    if size <= inline_bytes:
        return result_json, None
    return result_reference(execution_id, size), result_json

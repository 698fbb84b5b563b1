"""HTTP tasks: one request with httpx; the status and a bounded body are the result.

Success is a status in ``expected_status`` (any 2xx when empty). The result is
``{"status", "headers", "body", "body_bytes", "truncated"}``: ``body`` is the parsed JSON when
the response is JSON and fits the bound, else text. A line per request goes to stdout.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx

from jobstream.schemas import HttpTask, Outcome
from jobstream.worker.executors.base import ExecutionResult, RunContext
from jobstream.worker.executors.child import ms_since

KEPT_HEADERS = ("content-type", "content-length", "location", "etag", "retry-after")


def status_ok(status: int, expected: list[int]) -> bool:
    return status in expected if expected else 200 <= status < 300


def body_value(raw: bytes, content_type: str, truncated: bool) -> Any:
    """The body as JSON when it is complete JSON, else as text (undecodable bytes replaced)."""
    text = raw.decode(errors="replace")
    if not truncated and "json" in content_type.lower():
        try:
            return json.loads(text, parse_constant=_not_json)
        except ValueError:
            pass
    return text


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # NaN and Infinity parse in Python only


def summary(status: int, headers: httpx.Headers, raw: bytes, total: int) -> dict[str, Any]:
    truncated = total > len(raw)
    return {"status": status, "headers": {k: headers[k] for k in KEPT_HEADERS if k in headers},
            "body": body_value(raw, headers.get("content-type", ""), truncated),
            "body_bytes": total, "truncated": truncated}


async def read_bounded(response: httpx.Response, limit: int) -> tuple[bytes, int]:
    """The first ``limit`` bytes of the body and its total size (the rest is read and counted, not kept)."""
    kept = bytearray()
    total = 0
    async for part in response.aiter_bytes():
        total += len(part)
        if len(kept) < limit:
            kept += part[:limit - len(kept)]
    return bytes(kept), total


async def request(task: HttpTask, timeout_s: float, body_limit: int) -> tuple[httpx.Response, bytes, int]:
    """Send the request; the response (closed), the first ``body_limit`` bytes of its body, its size."""
    async with httpx.AsyncClient(timeout=timeout_s) as client:
        outgoing = client.build_request(task.method.upper(), task.url, headers=task.headers,
                                        content=task.body.encode() if task.body is not None else None)
        response = await client.send(outgoing, stream=True)
        try:
            raw, total = await read_bounded(response, body_limit)
        finally:
            await response.aclose()
    return response, raw, total


async def run_http_task(task: HttpTask, ctx: RunContext) -> ExecutionResult:
    # The task's own timeout, else the job's: a bound on the whole call, not only on each read.
    timeout_s = task.timeout_s or ctx.timeout_s or ctx.options.http_timeout_s
    started = time.monotonic()
    ctx.on_started(None)
    what = f"{task.method.upper()} {task.url}"
    call = asyncio.ensure_future(request(task, timeout_s, ctx.options.http_body_bytes))
    stop = asyncio.ensure_future(ctx.cancelled.wait())
    try:
        done, _ = await asyncio.wait({call, stop}, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stop.cancel()
        if not call.done():
            call.cancel()
    if call not in done:
        if ctx.cancelled.is_set():
            return _line(ctx, Outcome.CANCELLED, None, started, f"{what}: cancelled")
        return _line(ctx, Outcome.TIMED_OUT, None, started, f"{what}: timed out after {timeout_s}s")
    try:
        response, raw, total = call.result()
    except httpx.TimeoutException:
        return _line(ctx, Outcome.TIMED_OUT, None, started, f"{what}: timed out after {timeout_s}s")
    except (httpx.HTTPError, ValueError) as error:  # connection refused, bad URL, protocol errors
        return _line(ctx, Outcome.FAILED, None, started, f"{what}: {type(error).__name__}: {error}")
    status = response.status_code
    ctx.output.feed("stdout", f"{what} -> {status} ({total} bytes)\n".encode())
    result = json.dumps(summary(status, response.headers, raw, total))
    if status_ok(status, list(task.expected_status)):
        return ctx.result(Outcome.SUCCEEDED, status, ms_since(started), result_json=result)
    ctx.output.feed("stderr", raw[:4096])  # the start of the body says why, in the tail and the logs
    expected = ", ".join(map(str, task.expected_status)) or "2xx"
    return ctx.result(Outcome.FAILED, status, ms_since(started), f"status {status}, expected {expected}")


def _line(ctx: RunContext, outcome: Outcome, code: int | None, started: float, error: str) -> ExecutionResult:
    ctx.output.feed("stderr", (error + "\n").encode())
    return ctx.result(outcome, code, ms_since(started), error)

"""ASGI middleware: request metrics by route template and caller's namespace, and a cap on request
body size."""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from jobstream.api.problems import problem_response
from jobstream.core.access import Principal

UNMATCHED = "<unmatched>"  # one label for every unknown path: no cardinality blow-up


class ApiMetrics:
    """The API's Prometheus metrics, in a registry of its own (one per app, none global). Counters
    carry the caller's namespace ("" before one is known: a request refused 401); the latency
    histogram does not (a bucket series per namespace and route would be too many)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.requests = Counter("jobstream_api_requests_total", "HTTP requests answered",
                                ["method", "route", "status", "namespace"], registry=self.registry)
        self.latency = Histogram("jobstream_api_request_duration_seconds", "HTTP request latency",
                                 ["method", "route"], registry=self.registry)
        self.submits = Counter("jobstream_api_submits_total", "Job submissions by outcome",
                               ["outcome", "namespace"], registry=self.registry)
        self.cancels = Counter("jobstream_api_cancels_total", "Job cancellations by outcome",
                               ["outcome", "namespace"], registry=self.registry)


class MetricsMiddleware:
    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = [500]

        async def send_recording(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_recording)
        finally:
            route = getattr(scope.get("route"), "path", UNMATCHED)
            method = scope["method"]
            principal: Principal | None = scope.get("state", {}).get("principal")  # left by api.auth.authorize
            namespace = principal.namespace if principal is not None else ""
            self.metrics.requests.labels(method, route, str(status[0]), namespace).inc()
            self.metrics.latency.labels(method, route).observe(time.perf_counter() - started)


class BodyLimitMiddleware:
    """Answers 413 (problem+json) for bodies over ``max_bytes`` (or the path's own limit), declared
    or streamed."""

    def __init__(self, app: ASGIApp, max_bytes: int, path_limits: dict[str, int] | None = None) -> None:
        self.app, self.max_bytes, self.path_limits = app, max_bytes, path_limits or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE"):
            await self.app(scope, receive, send)
            return
        max_bytes = self.path_limits.get(scope.get("path", ""), self.max_bytes)
        if self._declared(scope) > max_bytes:
            await self._too_large(scope, receive, send, max_bytes)
            return
        chunks, total, disconnected = [], 0, False
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                disconnected = True
                break
            chunk = message.get("body", b"")
            total += len(chunk)
            if total > max_bytes:
                await self._too_large(scope, receive, send, max_bytes)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        await self.app(scope, _replay(b"".join(chunks), disconnected, receive), send)

    @staticmethod
    def _declared(scope: Scope) -> int:
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    return int(value)
                except ValueError:
                    return 0
        return 0

    async def _too_large(self, scope: Scope, receive: Receive, send: Send, max_bytes: int) -> None:
        response = problem_response(None, 413, "too-large", f"request body exceeds {max_bytes} bytes",
                                    instance=scope.get("path", ""))
        await response(scope, receive, send)


def _replay(body: bytes, disconnected: bool, receive: Receive) -> Receive:
    sent = [False]

    async def replay() -> dict[str, Any]:
        if not sent[0]:
            sent[0] = True
            if disconnected:
                return {"type": "http.disconnect"}
            return {"type": "http.request", "body": body, "more_body": False}
        return dict(await receive())

    return replay

"""The audit trail's edge: every request that changes something, and every one refused for who
asked (401, 403, 429), becomes an ``AuditEntry`` on the audit topic, which the projector folds
into ``audit_log`` (``GET /v1/audit``). Reads that succeed are not audited: the job events already
say who changed what, and a read changes nothing."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from jobstream.core.access import Principal
from jobstream.schemas import AuditEntry

log = logging.getLogger(__name__)
REFUSED = frozenset({401, 403, 429})
READS = frozenset({"GET", "HEAD", "OPTIONS"})
TARGETS = ("job_id", "execution_id", "worker_id", "command_id", "name")
UNAUTHENTICATED = "unauthenticated"


def audited(method: str, status: int) -> bool:
    """Whether a request answered ``status`` goes on the audit trail."""
    return status in REFUSED or method not in READS


def audit_entry(scope: Scope, status: int, at: datetime, detail: str = "") -> AuditEntry:
    """The entry of one answered request, from what routing and ``authorize`` left in its scope."""
    route = scope.get("route")
    principal: Principal | None = scope.get("state", {}).get("principal")
    params: dict[str, Any] = scope.get("path_params") or {}
    target = next((str(params[name]) for name in TARGETS if name in params), None)
    client = scope.get("client")
    return AuditEntry(entry_id=uuid.uuid4().hex, at=at, actor=principal.actor if principal else UNAUTHENTICATED,
                      role=principal.role.value if principal else None,
                      namespace=principal.namespace if principal else None,
                      address=principal.address if principal else (client[0] if client else None),
                      action=getattr(route, "name", None) or "unknown", method=scope["method"],
                      route=getattr(route, "path", None) or scope.get("path", ""), target=target, status=status,
                      detail=detail[:500])


class AuditMiddleware:
    """Publishes the entry of each audited request once it is answered (never delaying the answer:
    the producer's delivery is served by the API's poller thread)."""

    def __init__(self, app: ASGIApp, publish: Callable[[AuditEntry], None]) -> None:
        self.app, self.publish = app, publish

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = [500]

        async def send_recording(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_recording)
        finally:
            if audited(scope["method"], status[0]):
                try:
                    self.publish(audit_entry(scope, status[0], datetime.now(UTC),
                                             scope.get("state", {}).get("refusal", "")))
                except Exception as error:  # noqa: BLE001 - the answer is given; say what the trail lacks
                    log.error("audit entry not published for %s %s: %s", scope["method"], scope.get("path"), error)

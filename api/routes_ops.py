"""Operations: liveness, readiness, and Prometheus metrics: every namespace's for the operators,
the caller's own for a team (``/v1/metrics``)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from jobstream.api.auth import Caller
from jobstream.api.context import ApiContext, Context
from jobstream.api.namespace_metrics import namespace_exposition
from jobstream.api.problems import problem_response
from jobstream.api.views import PROBLEM
from jobstream.ui.queries import DashboardQueries

CHECK_TIMEOUT_S = 2.0


async def _check_postgres(context: ApiContext) -> str:
    try:
        await asyncio.wait_for(context.store.ping(), CHECK_TIMEOUT_S)
        return "ok"
    except Exception as error:  # noqa: BLE001 - reported, not raised
        return f"failed: {type(error).__name__}: {error}"


async def _check_kafka(context: ApiContext) -> str:
    producer = context.publisher.producer
    try:
        metadata = await asyncio.to_thread(producer.list_topics, None, CHECK_TIMEOUT_S)
        return "ok" if metadata.brokers else "failed: no broker known"
    except Exception as error:  # noqa: BLE001 - reported, not raised
        return f"failed: {type(error).__name__}: {error}"


def ops_router() -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        """The process is alive."""
        return {"status": "ok"}

    @router.get("/readyz", responses={503: {"description": "a dependency does not answer"}})
    async def readyz(request: Request, context: Context) -> Any:
        """Ready when Postgres answers and the producer reaches a broker."""
        postgres, kafka = await asyncio.gather(_check_postgres(context), _check_kafka(context))
        checks = {"postgres": postgres, "kafka": kafka,
                  "listener": "ok" if context.notifier.listening else "reconnecting"}
        if postgres == "ok" and kafka == "ok":
            return {"status": "ready", "checks": checks}
        return problem_response(request, 503, "not-ready", "a dependency does not answer", checks=checks)

    @router.get("/metrics", response_class=Response)
    async def metrics(context: Context) -> Response:
        """Prometheus text exposition."""
        return Response(generate_latest(context.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @router.get("/v1/metrics", response_class=Response, responses={503: PROBLEM})
    async def namespace_metrics(context: Context, caller: Caller) -> Response:
        """Prometheus text exposition of the caller's namespace only: the API's counters of its
        requests, and its jobs, queues, workers and dead letters as the read model has them."""
        overview = await DashboardQueries(context.store, caller.namespace).overview()
        body = namespace_exposition(context.metrics.registry, caller.namespace, overview)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return router

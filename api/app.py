"""The app factory: explicit wiring of pool, LISTEN connection, producer and routes."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

from fastapi import Depends, FastAPI

from jobstream.api.audit import AuditMiddleware
from jobstream.api.auth import Authenticator, authorize, document_access
from jobstream.api.bulk import BulkCommands
from jobstream.api.commands import ApiOptions, JobCommands
from jobstream.api.context import ApiContext
from jobstream.api.health import BrokerWatch
from jobstream.api.jwks import JwksKeys
from jobstream.api.jwt_auth import JwtVerifier
from jobstream.api.keyring import Keyring
from jobstream.api.middleware import ApiMetrics, BodyLimitMiddleware, MetricsMiddleware
from jobstream.api.notifier import JobNotifier
from jobstream.api.problems import install_problem_handlers
from jobstream.api.query import known_query_only
from jobstream.api.routes_audit import audit_router
from jobstream.api.routes_batch import batch_router
from jobstream.api.routes_bulk import bulk_router
from jobstream.api.routes_jobs import dlq_router, jobs_router
from jobstream.api.routes_logs import logs_router
from jobstream.api.routes_ops import ops_router
from jobstream.api.routes_read import commands_router, executions_router
from jobstream.api.routes_schedules import schedules_router
from jobstream.api.routes_secrets import secrets_router
from jobstream.api.routes_templates import templates_router
from jobstream.api.routes_wait import wait_router
from jobstream.api.routes_workers import workers_router
from jobstream.api.store import ReadModel, make_pool
from jobstream.api.transactional import TransactionalPublisher
from jobstream.api.vault import SecretVault
from jobstream.api.views import APP_WIDE_PROBLEMS
from jobstream.config import Settings
from jobstream.core.ratelimit import Rate, RateLimits
from jobstream.infra.topics import Topics
from jobstream.report_secret import load_reports_secret
from jobstream.schemas import AuditEntry
from jobstream.streams.kafka_io import Publisher
from jobstream.streams.kafka_security import client_security
from jobstream.tls import trusting
from jobstream.ui.consumer_lag import ConsumerLag
from jobstream.ui.routes import install_dashboard

log = logging.getLogger(__name__)
FLUSH_TIMEOUT_S = 5.0


class ProducerPoller:
    """Serves the producer's delivery and error callbacks from a thread, so acknowledgements arrive
    promptly, and probes the brokers while they are down."""

    def __init__(self, publisher: Publisher, broker: BrokerWatch, interval_s: float = 0.1) -> None:
        self.publisher, self.broker, self.interval_s = publisher, broker, interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="jobstream-api-producer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.publisher.poll(self.interval_s)
            self.broker.probe(self.publisher.producer)


def channel_for(schema: str) -> str:
    """The NOTIFY channel the projector signals after each commit."""
    return f"{schema}_jobs"


def _lifespan(settings: Settings, schema: str, publisher: Publisher | None, options: ApiOptions,
              metrics: ApiMetrics) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = make_pool(settings.database_url, timeout_s=options.pool_timeout_s)
        store = ReadModel(pool, schema)
        notifier = JobNotifier(settings.database_url, channel_for(schema), store.gate)
        broker = BrokerWatch()
        broker.bind(asyncio.get_running_loop())
        producer = publisher or Publisher(settings, error_cb=broker.on_error)
        poller = ProducerPoller(producer, broker)
        transactions = TransactionalPublisher(settings)  # init_transactions on the first batch
        keyring, vault = app.state.keyring, app.state.vault
        shell = keyring.shell_namespaces
        app.state.context = ApiContext(store=store, notifier=notifier, publisher=producer,
                                       commands=JobCommands(store, notifier, producer, options, broker, shell),
                                       metrics=metrics, options=options,
                                       bulk=BulkCommands(store, transactions, shell))
        await pool.open(wait=False)
        poller.start()
        vault.start()
        keyring.start()
        await notifier.start(options.listener_start_s)
        try:
            yield
        finally:
            await notifier.stop()
            poller.stop()
            vault.stop()
            keyring.stop()
            app.state.auth.close()
            await asyncio.to_thread(producer.flush, FLUSH_TIMEOUT_S)
            await asyncio.to_thread(transactions.flush, FLUSH_TIMEOUT_S)
            await pool.close()
            del app.state.context  # lets the producer go with the app's lifetime, not the app object's

    return lifespan


def audit_publisher(app: FastAPI) -> Callable[[AuditEntry], None]:
    """Publishes audit entries with the app's producer, keyed by actor (none before the lifespan ran)."""
    def publish(entry: AuditEntry) -> None:
        context: ApiContext | None = getattr(app.state, "context", None)
        if context is not None and context.publisher is not None:
            context.publisher.publish(context.publisher.topics.audit, entry.actor, entry)
    return publish


def jwt_verifier(settings: Settings) -> JwtVerifier | None:
    """The JWTs the API accepts: none unless a secret or a JWKS URL is configured."""
    if not settings.jwt_secret and not settings.jwt_jwks_url:
        return None
    jwks = JwksKeys(settings.jwt_jwks_url, ssl_context=trusting(settings.ca_file)) if settings.jwt_jwks_url else None
    return JwtVerifier(settings.jwt_secret, jwks, issuer=settings.jwt_issuer, audience=settings.jwt_audience)


def create_app(settings: Settings, *, schema: str = "jobstream", publisher: Publisher | None = None,
               options: ApiOptions | None = None, no_auth: bool = False) -> FastAPI:
    """The HTTP API over the read model in ``schema``; commands go to ``settings``' topics. Every
    route but the public ones asks for credentials (api/auth.py) unless ``no_auth``."""
    options = options or ApiOptions()
    metrics = ApiMetrics()
    app = FastAPI(title="jobstream", version="1", description="Event-sourced job scheduling on Kafka",
                  lifespan=_lifespan(settings, schema, publisher, options, metrics),
                  dependencies=[Depends(known_query_only), Depends(authorize)], responses=APP_WIDE_PROBLEMS)
    key_rate, namespace_rate = settings.key_submit_rate, settings.namespace_submit_rate
    limits = RateLimits(per_key=Rate(key_rate, 2 * key_rate), per_namespace=Rate(namespace_rate, 2 * namespace_rate))
    app.state.limits = limits
    app.state.vault = SecretVault(settings)
    app.state.reports_secret = load_reports_secret(settings)  # None: reports are not checked
    app.state.keyring = Keyring(settings, limits)  # the namespaces' rules apply without auth too
    app.state.auth = Authenticator(enabled=not no_auth, keyring=None if no_auth else app.state.keyring,
                                   jwt=None if no_auth else jwt_verifier(settings))
    if settings.ui_secret:
        app.state.auth.csrf_secret = settings.ui_secret.encode()
    install_problem_handlers(app)
    app.include_router(batch_router())  # /v1/jobs:batch, /v1/jobs:cancel
    app.include_router(bulk_router())  # /v1/jobs:bulk-cancel, /v1/jobs:bulk-retry, /v1/dlq:redrive
    app.include_router(wait_router())  # before jobs_router, whose /v1/jobs/{job_id} would match :wait
    app.include_router(jobs_router())
    app.include_router(dlq_router())
    app.include_router(executions_router())
    app.include_router(commands_router())
    app.include_router(logs_router())
    app.include_router(workers_router())
    app.include_router(templates_router())
    app.include_router(ops_router())
    app.include_router(audit_router())
    app.include_router(schedules_router())  # /v1/schedules:preview
    app.include_router(secrets_router())
    install_dashboard(app, ConsumerLag(settings.kafka_bootstrap, Topics(settings.topic_prefix).processor_groups,
                                       security=client_security(settings)))
    document_access(app)
    app.add_middleware(BodyLimitMiddleware, max_bytes=options.max_body_bytes,
                       path_limits={"/v1/jobs:batch": options.max_batch_body_bytes})
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.add_middleware(AuditMiddleware, publish=audit_publisher(app))
    return app


def run_api(settings: Settings, host: str = "127.0.0.1", port: int = 8000, schema: str = "jobstream",
            access_log: bool = False, no_auth: bool = False, tls: tuple[Path, Path] | None = None) -> None:
    """Serve the API with uvicorn until interrupted, over HTTPS with ``tls`` (certificate chain, key);
    logging is the process's (log_config=None), with one line per request only when ``access_log``."""
    import uvicorn

    app = create_app(settings, schema=schema, no_auth=no_auth)
    cert, key = tls or (None, None)
    uvicorn.run(app, host=host, port=port, log_config=None, access_log=access_log, ssl_certfile=cert, ssl_keyfile=key)

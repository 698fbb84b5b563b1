"""Authentication and authorisation at the API's edge: one app-wide dependency, ``authorize``.

Every request but the public ones (health, readiness, metrics) carries ``Authorization: Bearer``
with an API key (``jsk_...``, checked against the keys topic's fold) or a JWT (api/jwt_auth.py:
HS256 with the configured secret, RS256/ES256 with an identity provider's JWKS) whose
``permissions`` claim lists ``namespace:role`` grants (Temporal's form). ``X-Jobstream-Namespace``
picks the namespace among a caller's grants (an admin may pick any). The route's permission
(api/routes_access.py) must be granted by the caller's role, and a job named in the path must be of
the caller's namespace (else 404) and, for a submitter changing it, its own (else 403).

A browser on the dashboard presents the token in the ``jobstream_token`` cookie instead: for reads,
and for a dashboard post with the session's CSRF token (api/csrf.py), never for a /v1 change.

Routes read the caller with the ``Caller`` dependency; the commands the request sends are stamped
with it through ``ACTING`` (api/acting.py).
"""

from __future__ import annotations

import logging
import math
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request

from jobstream.api.acting import ACTING
from jobstream.api.csrf import CSRF_FIELD, CSRF_HEADER, csrf_valid
from jobstream.api.jwks import JwksUnavailable
from jobstream.api.jwt_auth import JwtVerifier, TokenRefused
from jobstream.api.keyring import Keyring
from jobstream.api.problems import ApiProblem, field_error
from jobstream.api.routes_access import route_permission
from jobstream.api.store import UNAVAILABLE, ReadModel, Row
from jobstream.core.access import Access, Permission, Principal, Role, acting_role, job_access
from jobstream.core.ratelimit import RateLimits
from jobstream.schemas import DEFAULT_NAMESPACE, NAMESPACE_PATTERN, valid_namespace

log = logging.getLogger(__name__)
NAMESPACE_HEADER = "X-Jobstream-Namespace"
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="jobstream"'}
TOKEN_COOKIE = "jobstream_token"  # accepted on reads, and on dashboard posts with the CSRF token (see _token)
DASHBOARD = "/ui/"
ANONYMOUS = "anonymous"  # the actor of every request when auth is off (--no-auth)


@dataclass
class Authenticator:
    """How callers are recognised: API keys (``keyring``), JWTs (``jwt``), or nobody checked
    (``enabled`` false: every caller is an admin, for a loopback-only development API)."""

    enabled: bool
    keyring: Keyring | None = None
    jwt: JwtVerifier | None = None
    csrf_secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))  # api/csrf.py

    async def grants(self, token: str, now: datetime) -> tuple[str, dict[str, Role]]:
        """The actor a token stands for and its grants; a 401 problem if it is not accepted, a 503
        if the identity provider's keys cannot be fetched to tell."""
        if token.startswith("jsk_"):
            if self.keyring is None:
                raise _unauthorized("API keys are not accepted here")
            key = self.keyring.authenticate(token, now)
            if isinstance(key, str):
                raise _unauthorized(key)
            return f"key:{key.key_id}", {key.namespace: key.role}
        if self.jwt is None:
            raise _unauthorized("not an API key, and no JWT issuer is configured")
        try:
            return await self.jwt.grants(token)
        except TokenRefused as refused:
            raise _unauthorized(str(refused)) from None
        except JwksUnavailable as error:
            raise ApiProblem(503, "identity-provider-unavailable", f"{error}: retry later",
                             headers={"Retry-After": str(error.retry_after_s)}) from None

    def bound_worker(self, actor: str) -> str | None:
        """The worker id an accepted API key is bound to (``keys create --worker-id``); None for
        an unbound key or a JWT."""
        key = self.keyring.keys.get(actor.removeprefix("key:")) if self.keyring and actor.startswith("key:") else None
        return key.worker_id if key is not None else None

    def close(self) -> None:
        if self.jwt is not None and self.jwt.jwks is not None:
            self.jwt.jwks.close()


def _unauthorized(detail: str) -> ApiProblem:
    return ApiProblem(401, "unauthorized", detail, title="Unauthorized", headers=CHALLENGE)


def _forbidden(detail: str) -> ApiProblem:
    return ApiProblem(403, "forbidden", detail, title="Forbidden")


async def authorize(request: Request) -> Principal:
    """The app-wide dependency: who calls, acting where, allowed to call this route at all."""
    route = request.scope.get("route")
    permission = route_permission(request.method, getattr(route, "path", request.url.path))
    auth: Authenticator = request.app.state.auth
    try:
        principal = await _principal(request, auth, permission)
        request.state.principal = principal  # for the audit trail, refused or not
        if permission is not Permission.PUBLIC and auth.enabled:  # without auth any namespace is anyone's
            if not principal.may(permission):
                raise _forbidden(f"role {principal.role} may not {request.method} {getattr(route, 'path', '')} "
                                 f"(it needs the {permission} permission)")
            await _check_target(request, principal, permission)
        if permission is Permission.SUBMIT:
            _within_rate(request, principal)
    except ApiProblem as problem:
        request.state.refusal = problem.detail
        raise
    ACTING.set(principal)  # stamps the commands this request sends (an async dependency: same context)
    return principal


async def _principal(request: Request, auth: Authenticator, permission: Permission) -> Principal:
    address = request.client.host if request.client else None
    asked = request.headers.get(NAMESPACE_HEADER)
    if asked is not None and not valid_namespace(asked):
        raise ApiProblem(422, "validation", f"{NAMESPACE_HEADER} is not a namespace name",
                         errors=[field_error(NAMESPACE_HEADER, f"must match {NAMESPACE_PATTERN}")])
    if not auth.enabled:
        return Principal(ANONYMOUS, Role.ADMIN, asked or DEFAULT_NAMESPACE, address)
    token = await _token(request, auth, permission)
    if not token:
        if permission is Permission.PUBLIC:
            return Principal(ANONYMOUS, Role.VIEWER, DEFAULT_NAMESPACE, address)
        raise _unauthorized("credentials are required: Authorization: Bearer <API key or JWT>")
    actor, grants = await auth.grants(token, datetime.now(UTC))
    request.state.token = token  # the dashboard derives the session's CSRF token from it
    acting = acting_role(grants, asked)
    if acting is None:
        raise _forbidden(f"{actor} may not act in namespace {asked}")
    return Principal(actor, acting[1], acting[0], address, worker_id=auth.bound_worker(actor))


async def _token(request: Request, auth: Authenticator, permission: Permission) -> str:
    """The bearer token of the Authorization header, else the ``jobstream_token`` cookie (a browser
    on the dashboard) for a read, or for a dashboard post carrying the session's CSRF token (403
    without it). The cookie never authorises a change under /v1, and is ignored by public routes
    (so an expired one does not lock a browser out of the login page)."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    cookie = request.cookies.get(TOKEN_COOKIE, "").strip()
    if not cookie or permission is Permission.PUBLIC:
        return ""
    if request.method in ("GET", "HEAD"):
        return cookie
    if not request.url.path.startswith(DASHBOARD):
        return ""
    if not csrf_valid(auth.csrf_secret, cookie, await _csrf_given(request)):
        raise _forbidden("the form carries no valid CSRF token: reload the dashboard page and try again")
    return cookie


async def _csrf_given(request: Request) -> str | None:
    """The CSRF token of a dashboard post: its header, else its form field."""
    if header := request.headers.get(CSRF_HEADER):
        return header
    if not request.headers.get("content-type", "").startswith(("application/x-www-form-urlencoded",
                                                               "multipart/form-data")):
        return None
    given = (await request.form()).get(CSRF_FIELD)
    return given if isinstance(given, str) else None


def _within_rate(request: Request, principal: Principal) -> None:
    """A submission over its key's or its namespace's rate is a 429 saying when to come back."""
    limits: RateLimits = request.app.state.limits
    wait = limits.admit(principal.actor, principal.namespace, time.monotonic())
    if wait > 0:
        raise ApiProblem(429, "rate-limited", f"{principal.actor} in namespace {principal.namespace} is over its "
                         f"submission rate; retry in {wait:.2f}s", title="Too Many Requests",
                         headers={"Retry-After": str(max(1, math.ceil(wait)))})


async def _check_target(request: Request, principal: Principal, permission: Permission) -> None:
    """A job (or its execution, or a worker) named in the path must be the caller's to see, and,
    for a submitter changing a job, its own. One that does not exist is the route's 404 to give."""
    params = {name: value for name, value in request.path_params.items() if "\x00" not in value}  # the route's 422
    if not params:
        return
    store = request.app.state.context.store
    job_id = params.get("job_id") or _job_of_execution(params.get("execution_id"))
    if job_id is not None:
        job = await _job_if_readable(store, job_id, principal, permission)
        if job is not None:
            access = job_access(principal, permission, job["namespace"], job.get("submitted_by"))
            if access is Access.HIDDEN:
                raise ApiProblem(404, "not-found", f"job {job_id} does not exist")
            if access is Access.FORBIDDEN:
                raise _forbidden(f"job {job_id} was submitted by another caller: a submitter may change "
                                 "its own jobs only")
    command_id = params.get("command_id")
    if command_id is not None and await store.command_namespace(command_id) not in (None, principal.namespace):
        raise ApiProblem(404, "not-found", f"nothing is known of command {command_id}")
    worker_id = params.get("worker_id")
    if worker_id is not None:
        worker = await store.worker(worker_id)
        if worker is not None and worker["namespace"] != principal.namespace:
            raise ApiProblem(404, "not-found", f"worker {worker_id} does not exist")


async def _job_if_readable(store: ReadModel, job_id: str, principal: Principal, permission: Permission) -> Row | None:
    """The job named in the path; None while the read model does not answer, for the route to
    answer 503 to a read, or to send a command the state processor refuses if it crosses namespaces.
    Only a submitter's change waits for it: which jobs are its own only the read model knows."""
    try:
        return await store.job(job_id)
    except UNAVAILABLE:
        if permission is Permission.ACT and principal.role is Role.SUBMITTER:
            raise
        return None


def _job_of_execution(execution_id: str | None) -> str | None:
    """Execution ids are ``<job_id>.<attempt>`` (core.state.execution_id_for)."""
    return execution_id.rsplit(".", 1)[0] if execution_id and "." in execution_id else None


def document_access(app: FastAPI) -> None:
    """Each operation's permission in the OpenAPI document (``x-permission``), with the 401 and 403
    answers of those that ask for credentials."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        document = app.openapi_schema or _with_access(generate())
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def _with_access(document: dict[str, Any]) -> dict[str, Any]:
    problem = {"content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            permission = route_permission(method.upper(), path)
            operation["x-permission"] = permission.value
            if permission is not Permission.PUBLIC:
                operation["responses"].setdefault("401", {**problem, "description": "no valid credentials"})
                operation["responses"].setdefault("403", {**problem, "description": "not permitted"})
            if permission is Permission.SUBMIT:
                operation["responses"].setdefault("429", {**problem, "description": "over the submission rate: "
                                                          "come back after Retry-After"})
    return document


def check_worker(request: Request, caller: Principal, worker_id: str) -> None:
    """403 unless the caller may act as ``worker_id`` (a worker key bound to another may not); the
    audit trail records why."""
    if not caller.may_act_as_worker(worker_id):
        problem = _forbidden(f"{caller.actor} is bound to worker {caller.worker_id}: it may not act as "
                             f"worker {worker_id}")
        request.state.refusal = problem.detail
        raise problem


async def current_principal(principal: Annotated[Principal, Depends(authorize)]) -> Principal:
    return principal


Caller = Annotated[Principal, Depends(current_principal)]

"""``/v1/secrets``: a namespace's secrets, set, listed (names and versions only) and deleted by
its operators; their values revealed only to the worker an execution that refers to them is
leased to (``POST /v1/secrets:reveal``). Every value travels sealed (api/vault.py)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Request, Response
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from jobstream.api.auth import Caller, check_worker
from jobstream.api.context import ApiContext, Context
from jobstream.api.problems import ApiProblem
from jobstream.api.vault import SecretVault
from jobstream.api.views import PROBLEM
from jobstream.core.access import Principal, Role
from jobstream.core.env_from import refs_in_document
from jobstream.core.secret_book import SECRET_NAME_PATTERN
from jobstream.core.secrets_crypto import SecretUnreadable
from jobstream.projections.rows import ExecutionStatus
from jobstream.schemas import SecretRecord, SecretSet
from jobstream.secrets_admin import NoKek, record_key

MAX_VALUE = 64 * 1024
PUBLISH_S = 10.0
Name = Annotated[str, Path(pattern=SECRET_NAME_PATTERN, description="the secret's name")]


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")  # a child's environment cannot hold one
    return value


class Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")


class SecretIn(Strict):
    value: Annotated[str, AfterValidator(_no_nul), Field(min_length=1, max_length=MAX_VALUE)]


class SecretView(BaseModel):
    """A secret as it may be shown: never its value."""

    namespace: str
    name: str
    version: int
    set_at: datetime
    actor: str


class SecretList(BaseModel):
    items: list[SecretView]


class RevealIn(Strict):
    execution_id: Annotated[str, Field(min_length=1, max_length=300)]
    worker_id: Annotated[str, Field(min_length=1, max_length=200)]


class Revealed(BaseModel):
    values: dict[str, str] = Field(description="each env_from variable of the execution's task, with its value")


def _vault(request: Request) -> SecretVault:
    vault: SecretVault = request.app.state.vault
    return vault


def _no_kek(error: NoKek) -> ApiProblem:
    return ApiProblem(503, "no-kek", str(error), title="Service Unavailable")


def secrets_router() -> APIRouter:
    router = APIRouter(tags=["secrets"])

    @router.get("/v1/secrets", response_model=SecretList)
    async def list_secrets(request: Request, caller: Caller) -> SecretList:
        """The namespace's secrets: names and versions, never values."""
        listed = _vault(request).book.listed(caller.namespace)
        return SecretList(items=[SecretView(namespace=i.namespace, name=i.name, version=i.version, set_at=i.set_at,
                                            actor=i.actor) for i in listed])

    @router.put("/v1/secrets/{name}", response_model=SecretView, responses={503: PROBLEM})
    async def set_secret(request: Request, name: Name, body: SecretIn, context: Context, caller: Caller) -> SecretView:
        """Set a secret's value (a new version): only its ciphertext is stored."""
        try:
            records = _vault(request).sealed(caller.namespace, name, body.value, datetime.now(UTC), caller.actor)
        except NoKek as error:
            raise _no_kek(error) from None
        await _publish(context, _vault(request), records)
        record = records[-1]
        assert isinstance(record, SecretSet)
        return SecretView(namespace=record.namespace, name=record.name, version=record.version, set_at=record.set_at,
                          actor=record.actor)

    @router.delete("/v1/secrets/{name}", status_code=204, responses={404: PROBLEM, 503: PROBLEM})
    async def delete_secret(request: Request, name: Name, context: Context, caller: Caller) -> Response:
        """Delete a secret: jobs that refer to it fail from then on."""
        deletion = _vault(request).deletion(caller.namespace, name, datetime.now(UTC), caller.actor)
        if deletion is None:
            raise ApiProblem(404, "not-found", f"no secret {name} in namespace {caller.namespace}")
        await _publish(context, _vault(request), [deletion])
        return Response(status_code=204)

    @router.post("/v1/secrets:reveal", response_model=Revealed,
                 responses={404: PROBLEM, 409: PROBLEM, 410: PROBLEM, 503: PROBLEM})
    async def reveal(request: Request, response: Response, body: RevealIn, context: Context,
                     caller: Caller) -> Revealed:
        """The values of an execution's env_from, for the worker it is leased to (the lease as the read
        model has it: the worker reports the start first, and asks again while this answers 409).
        A worker key bound to another worker id gets 403."""
        check_worker(request, caller, body.worker_id)
        namespace, refs = await _leased_refs(context, body, caller)
        response.headers["Cache-Control"] = "no-store"  # no proxy or client cache keeps a value
        vault = _vault(request)
        try:
            return Revealed(values={var: vault.reveal(namespace, name) for var, name in refs.items()})
        except KeyError as missing:
            raise ApiProblem(404, "no-secret", f"no secret {missing.args[0]} in namespace {namespace}") from None
        except SecretUnreadable as error:
            raise ApiProblem(410, "secret-shredded", str(error), title="Gone") from None
        except NoKek as error:
            raise _no_kek(error) from None

    return router


async def _publish(context: ApiContext, vault: SecretVault, records: list[SecretRecord]) -> None:
    """On the secrets topic, acknowledged, then in the vault's book."""
    topic = context.publisher.topics.secrets
    try:
        for record in records:
            await asyncio.wait_for(context.publisher.publish_acked(topic, record_key(record), record), PUBLISH_S)
    except (TimeoutError, RuntimeError) as error:
        raise ApiProblem(503, "broker-unavailable", f"the secret was not stored: {error or 'timed out'}",
                         title="Service Unavailable") from None
    vault.applied(records)


async def _leased_refs(context: Context, body: RevealIn, caller: Principal) -> tuple[str, dict[str, str]]:
    """The job's namespace and its task's references, if the execution runs on ``body.worker_id`` now."""
    execution = await context.store.execution(body.execution_id)
    job = await context.store.job(execution["job_id"]) if execution else None
    if job is None or execution is None or (caller.role is not Role.ADMIN and job["namespace"] != caller.namespace):
        raise ApiProblem(404, "not-found", f"execution {body.execution_id} does not exist")
    if execution["worker_id"] != body.worker_id or execution["status"] != ExecutionStatus.RUNNING:
        raise ApiProblem(409, "not-leased", f"execution {body.execution_id} is not running on worker "
                                            f"{body.worker_id} (yet: ask again after reporting its start)")
    task = (job.get("spec") or {}).get("task") or {}
    return job["namespace"], refs_in_document(task)

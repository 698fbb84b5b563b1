"""Who the commands of the current request act for: set by ``api.auth.authorize``, read where a
command's envelope is made, so that every command carries its actor and namespace without each
call passing them along. Outside a request (or with no caller known) the API acts as itself in
the default namespace, as it did before authentication."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from jobstream.core.access import Principal, Role
from jobstream.schemas import DEFAULT_NAMESPACE, Command, CommandEnvelope
from jobstream.streams.kafka_io import command_envelope

API = Principal("api", Role.ADMIN, DEFAULT_NAMESPACE)
ACTING: ContextVar[Principal] = ContextVar("jobstream_acting", default=API)


def acting_envelope(cls: type[Command], job_id: str, **fields: Any) -> CommandEnvelope:
    """A command envelope stamped with the current caller's actor and namespace."""
    who = ACTING.get()
    return command_envelope(cls, job_id, who.actor, namespace=who.namespace, **fields)


def acting_namespace() -> str:
    return ACTING.get().namespace

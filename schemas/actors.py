"""Who sent a command or caused an event (``envelope.actor``), where the wire says so by convention."""

from __future__ import annotations

WORKER_ACTOR_PREFIX = "worker:"


def worker_actor(worker_id: str) -> str:
    """A worker's own reports, returns and events."""
    return f"{WORKER_ACTOR_PREFIX}{worker_id}"


def is_worker(actor: str | None) -> bool:
    return bool(actor) and actor.startswith(WORKER_ACTOR_PREFIX)  # type: ignore[union-attr]

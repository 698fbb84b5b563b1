"""Worker keys bound to a worker id (``jobstream keys create --role worker --worker-id``), against
the whole stack: a worker presenting its bound key gets its executions' secrets; the key may not
ask for another worker's, nor register another worker; an unbound worker key acts as any, as before."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from typer.testing import CliRunner

from jobstream.cli import app as cli_app
from jobstream.config import Settings
from jobstream.core.access import Role
from jobstream.infra.process import free_port
from jobstream.infra.topics import Topics
from jobstream.keys_admin import create_key
from jobstream.secrets_admin import ensure_kek
from tests.integration.harness import ServiceProcess, api_stack, poll, wait_terminal

PRINTS = {"type": "shell", "argv": ["/bin/sh", "-c", 'echo "pw=$DB_PASSWORD"'],
          "env_from": {"DB_PASSWORD": {"secret": "db-password"}}}
WAITS = {**PRINTS, "argv": ["/bin/sh", "-c", "sleep 60"]}
GHOST = {"hostname": "ghost", "queues": ["ghost-queue"], "slots": 1, "cpu": 1.0, "memory_mb": 64}


def _key(settings: Settings, worker_id: str | None = None) -> str:
    token, _ = create_key(settings, "default", Role.WORKER, datetime.now(UTC), worker_id=worker_id)
    return token.token


def _as(client: httpx.Client, token: str) -> httpx.Client:
    return httpx.Client(base_url=str(client.base_url), timeout=30, headers={"Authorization": f"Bearer {token}"})


def _accepted(client: httpx.Client) -> bool:
    """The API knows the key (it folds the keys topic): a reveal of nothing is no 401."""
    return client.post("/v1/secrets:reveal", json={"execution_id": "none.1", "worker_id": "none"}).status_code != 401


def _running(stack: httpx.Client, job_id: str) -> dict[str, Any] | None:
    items = stack.get(f"/v1/jobs/{job_id}/executions").json()["items"]
    return items[0] if items and items[0]["status"] == "running" else None


def test_a_bound_worker_key_acts_for_its_own_worker_only(
        test_settings: Settings, topics_ready: Topics, services: dict[str, ServiceProcess], tmp_path: Path,
        unique_name: str) -> None:
    settings = test_settings.with_(api_url=f"http://127.0.0.1:{free_port()}")
    ensure_kek(settings)
    worker_id = f"w-{uuid.uuid4().hex[:8]}"
    names = ["state-processor", "dispatcher", "timers", "projector", "api"]
    with api_stack(settings, services, tmp_path, unique_name, names) as stack:
        # Given a worker presenting a key bound to its own id, and keys bound to another and to none
        bound, unbound = _key(settings, worker_id), _key(settings)
        other = _cli_key(settings, "--role", "worker", "--worker-id", "w-ghost")
        with _as(stack, bound) as own, _as(stack, other) as ghost, _as(stack, unbound) as anyone:
            for client in (own, ghost, anyone):
                poll(lambda c=client: _accepted(c), 30, "the new key to be accepted")  # type: ignore[misc]
            services["worker"] = ServiceProcess("worker", ["worker", "--slots", "2", "--worker-id", worker_id],
                                                settings.with_(token=bound), tmp_path).start()
            assert stack.put("/v1/secrets/db-password", json={"value": "s3cr3t"}).status_code == 200
            # When it runs a job that refers to a secret
            job_id = stack.post("/v1/jobs", json={"name": "prints", "task": PRINTS}).json()["job_id"]
            # Then its own key got the value for it (masked in the output)
            assert wait_terminal(stack, [job_id], 120)[job_id]["status"] == "completed"
            assert stack.get(f"/v1/jobs/{job_id}/executions").json()["items"][0]["stdout_tail"] == "pw=***\n"
            # and while an execution runs on it, its key may not ask for it as another worker
            waiting = stack.post("/v1/jobs", json={"name": "waits", "task": WAITS}).json()["job_id"]
            execution = poll(lambda: _running(stack, waiting), 60, "the execution to run")
            assert execution["worker_id"] == worker_id
            mine = {"execution_id": execution["execution_id"], "worker_id": worker_id}
            assert own.post("/v1/secrets:reveal", json={**mine, "worker_id": "w-ghost"}).status_code == 403
            # nor may a key bound to another worker ask for it, whichever worker it names
            refused = ghost.post("/v1/secrets:reveal", json=mine)
            assert refused.status_code == 403 and "bound to worker w-ghost" in refused.json()["detail"]
            # while the bound key, and an unbound worker key (as today), get its values
            assert own.post("/v1/secrets:reveal", json=mine).json() == {"values": {"DB_PASSWORD": "s3cr3t"}}
            assert anyone.post("/v1/secrets:reveal", json=mine).json() == {"values": {"DB_PASSWORD": "s3cr3t"}}
            stack.post(f"/v1/jobs/{waiting}/cancel")
            # And a bound key registers its own worker only (its id by default); an unbound one any
            assert ghost.post("/v1/workers/register", json={**GHOST, "worker_id": "w-else"}).status_code == 403
            registered = ghost.post("/v1/workers/register", json=GHOST)
            assert registered.status_code == 201 and registered.json()["worker_id"] == "w-ghost"
            assert anyone.post("/v1/workers/register", json={**GHOST, "worker_id": "w-else"}).status_code == 201
        # and the refusals are on the audit trail, saying why
        ghost_actor = "key:" + other.removeprefix("jsk_").split(".")[0]

        def refusals() -> list[dict[str, Any]] | None:
            # Reveals: the one above and the key check's (``_accepted`` names no worker of its own).
            # Entries reach the trail through the projector, in no order between requests: wait for both kinds.
            items = stack.get("/v1/audit", params={"actor": ghost_actor}).json()["items"]
            refused = [e for e in items if e["status"] == 403]
            return refused if {e["action"] for e in refused} >= {"reveal", "register_worker"} else None
        entries = poll(refusals, 30, "both kinds of refusal on the audit trail")
        assert {e["action"] for e in entries} == {"reveal", "register_worker"}
        assert all("bound to worker w-ghost" in e["detail"] for e in entries)
        # and `keys ls` shows which key is bound to which worker; only a worker key is bound to one
        wrong = CliRunner().invoke(cli_app, ["keys", "create", "--role", "operator", "--worker-id", "w-1"],
                                   env=settings.as_env())
        assert wrong.exit_code == 2 and "--worker-id" in wrong.output
        listed = CliRunner().invoke(cli_app, ["keys", "ls", "-o", "json"], env=settings.as_env())
        assert listed.exit_code == 0, listed.output
        assert sorted(str(k["worker_id"]) for k in json.loads(listed.stdout)) == sorted([worker_id, "w-ghost", "None"])


def _cli_key(settings: Settings, *args: str) -> str:
    """A key made as an operator makes one: ``jobstream keys create ...``; its token."""
    result = CliRunner().invoke(cli_app, ["keys", "create", *args], env=settings.as_env())
    assert result.exit_code == 0, result.output
    return result.stdout.strip().splitlines()[-1]

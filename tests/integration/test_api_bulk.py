"""Bulk actions by filter over the public API (``/v1/jobs:bulk-cancel``, ``/v1/jobs:bulk-retry``,
``/v1/dlq:redrive``), against the whole real stack: a dry run counts, the action is bounded by
that count, and another namespace's jobs are never touched."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.integration.harness import poll, wait_terminal

pytestmark = pytest.mark.integration
LIVE_S = 60  # a job's whole run, or a projection, on a busy 2-core machine
OTHER = {"X-Jobstream-Namespace": "bulk-other"}  # the tests' admin may act in any namespace it names


def submitted(client: httpx.Client, headers: dict[str, str] | None = None, **fields: Any) -> str:
    body = {"name": "bulk", "task": {"type": "shell", "argv": ["true"]}, **fields}
    response = client.post("/v1/jobs", json=body, headers=headers)
    assert response.status_code in (201, 202), response.text
    job_id: str = response.json()["job_id"]
    poll(lambda: client.get(f"/v1/jobs/{job_id}", headers=headers).status_code == 200, LIVE_S, f"job {job_id}")
    return job_id


def status_of(client: httpx.Client, job_id: str, headers: dict[str, str] | None = None) -> str:
    status: str = client.get(f"/v1/jobs/{job_id}", headers=headers).json()["status"]
    return status


def attempts(client: httpx.Client, job_id: str) -> int:
    return len(client.get(f"/v1/jobs/{job_id}/executions").json()["items"])


def test_bulk_cancel_dry_runs_then_acts_within_its_count_in_its_namespace_only(stack: httpx.Client) -> None:
    # Given two jobs waiting on a queue no worker serves, and a job of another namespace just like them
    queue, label = f"idle-{uuid.uuid4().hex[:8]}", f"sweep={uuid.uuid4().hex[:8]}"
    key, value = label.split("=")
    mine = sorted(submitted(stack, queue=queue, labels={key: value}) for _ in range(2))
    theirs = submitted(stack, OTHER, queue=queue, labels={key: value})
    selection = {"queue": queue, "label": [label], "status": ["queued"]}
    # When the operator asks for a dry run: it counts them, shows their ids, and sends nothing
    dry = stack.post("/v1/jobs:bulk-cancel", json={**selection, "dry_run": True})
    assert dry.status_code == 200, dry.text
    assert dry.json() == {"dry_run": True, "matched": 2, "sample": mine, "requested": 0, "request_id": None}
    assert {status_of(stack, job_id) for job_id in mine} == {"queued"}
    # And one more job matches by the time it confirms: the action is refused, naming both counts
    late = submitted(stack, queue=queue, labels={key: value})
    grew = stack.post("/v1/jobs:bulk-cancel", json={**selection, "expected_count": 2})
    assert grew.status_code == 409, grew.text
    assert (grew.json()["matched"], grew.json()["expected_count"]) == (3, 2)
    assert {status_of(stack, job_id) for job_id in [*mine, late]} == {"queued"}
    # When it confirms the new count: every matching job is cancelled, once
    done = stack.post("/v1/jobs:bulk-cancel", json={**selection, "expected_count": 3, "request_id": f"r-{value}"})
    assert done.status_code == 202, done.text
    assert done.json() == {"dry_run": False, "matched": 3, "sample": [], "requested": 3, "request_id": f"r-{value}"}
    poll(lambda: {status_of(stack, job_id) for job_id in [*mine, late]} == {"cancelled"}, LIVE_S, "the cancels")
    # Then the other namespace's job waits on, and the refusal and the action are on the audit trail
    assert status_of(stack, theirs, OTHER) == "queued"
    audited = poll(lambda: sorted(e["status"] for e in stack.get("/v1/audit", params={"action": "bulk_cancel"})
                                  .json()["items"]) == [200, 202, 409], LIVE_S, "the audit entries")
    assert audited


def test_bulk_retry_and_redrive_act_on_failed_jobs_by_name_prefix(stack: httpx.Client) -> None:
    # Given two jobs that failed for good (dead letters), and a job that completed under the same prefix
    prefix = f"doomed-{uuid.uuid4().hex[:8]}"
    failing = [submitted(stack, name=f"{prefix}-{i}", task={"type": "shell", "argv": ["sh", "-c", "exit 3"]},
                         retry={"max_attempts": 1}) for i in range(2)]
    fine = submitted(stack, name=f"{prefix}-fine")
    wait_terminal(stack, [*failing, fine], timeout_s=LIVE_S)
    selection = {"name_prefix": prefix}
    # When the operator retries what failed under the prefix, after a dry run
    dry = stack.post("/v1/jobs:bulk-retry", json={**selection, "dry_run": True}).json()
    assert (dry["matched"], dry["sample"]) == (2, sorted(failing))
    assert stack.post("/v1/jobs:bulk-retry", json={**selection, "expected_count": 2}).json()["requested"] == 2
    # Then each runs a second time (and fails again); the completed job does not
    poll(lambda: all(attempts(stack, job_id) == 2 and status_of(stack, job_id) == "failed" for job_id in failing),
         LIVE_S, "the retried jobs to fail again")
    assert attempts(stack, fine) == 1
    # And redriving the dead letters by the same filter runs them a third time
    dry = stack.post("/v1/dlq:redrive", json={**selection, "dry_run": True}).json()
    assert dry["matched"] == 2
    assert stack.post("/v1/dlq:redrive", json={**selection, "expected_count": 2}).status_code == 202
    poll(lambda: all(attempts(stack, job_id) == 3 for job_id in failing), LIVE_S, "the redriven jobs to run again")

"""Dependencies between jobs against the real broker, Postgres and processes: the diamond."""

from __future__ import annotations

from typing import Any

import httpx

from tests.integration.harness import parse_time, submit_job, wait_terminal


def _diamond(client: httpx.Client, b_argv: list[str], condition: str = "succeeded") -> dict[str, str]:
    a = submit_job(client, ["sleep", "0.5"], name="A")["job_id"]
    b = submit_job(client, b_argv, name="B", depends_on=[a])["job_id"]
    c = submit_job(client, ["true"], name="C", depends_on=[{"job_id": a}])["job_id"]
    d = submit_job(client, ["true"], name="D", depends_on=[{"job_id": b, "condition": condition}, c])["job_id"]
    return {"A": a, "B": b, "C": c, "D": d}


def _types(client: httpx.Client, job_id: str) -> list[str]:
    return [e["type"] for e in client.get(f"/v1/jobs/{job_id}/events").json()["items"]]


def test_a_diamond_runs_a_first_and_d_last_after_both(stack: httpx.Client) -> None:
    ids = _diamond(stack, ["sleep", "0.3"])
    done = wait_terminal(stack, list(ids.values()), 60)
    jobs: dict[str, Any] = {name: done[job_id] for name, job_id in ids.items()}
    assert {name: job["status"] for name, job in jobs.items()} == dict.fromkeys("ABCD", "completed")
    a_done = parse_time(jobs["A"]["finished_at"])
    assert parse_time(jobs["B"]["started_at"]) >= a_done and parse_time(jobs["C"]["started_at"]) >= a_done
    upstreams_done = max(parse_time(jobs["B"]["finished_at"]), parse_time(jobs["C"]["finished_at"]))
    assert parse_time(jobs["D"]["started_at"]) >= upstreams_done
    assert _types(stack, ids["D"])[:4] == ["JobSubmitted", "JobPending", "UpstreamSettled", "UpstreamSettled"]


def test_a_failing_b_cancels_d_but_not_c_and_completed_lets_d_run(stack: httpx.Client) -> None:
    strict = _diamond(stack, ["false"])
    lenient = _diamond(stack, ["false"], condition="completed")
    done = wait_terminal(stack, [*strict.values(), *lenient.values()], 60)
    assert [done[strict[n]]["status"] for n in "ABCD"] == ["completed", "failed", "completed", "cancelled"]
    reason = [e for e in stack.get(f"/v1/jobs/{strict['D']}/events").json()["items"] if e["type"] == "JobCancelled"]
    assert reason and reason[0]["payload"]["reason"].startswith("upstream_failed")
    assert [done[lenient[n]]["status"] for n in "ABCD"] == ["completed", "failed", "completed", "completed"]

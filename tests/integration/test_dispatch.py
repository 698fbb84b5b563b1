"""Dispatch against the real broker, Postgres and worker processes: priority order, aging,
labels, and a job no worker can take saying why."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from jobstream.config import Settings
from jobstream.infra.process import free_port
from jobstream.infra.topics import Topics
from tests.integration.harness import ServiceProcess, api_stack, poll

Job = dict[str, Any]
AGING_STEP_S = 0.5  # small, so that the aging test finishes in seconds


class Stack:
    """The processors, projector and API of one test; workers are started by the test."""

    def __init__(self, settings: Settings, services: dict[str, ServiceProcess], log_dir: Path,
                 client: httpx.Client) -> None:
        self.settings, self.services, self.log_dir, self.client = settings, services, log_dir, client

    def start_worker(self, name: str, *args: str) -> None:
        self.services[name] = ServiceProcess(name, ["worker", *args], self.settings, self.log_dir).start()

    def submit(self, argv: list[str], **fields: Any) -> Job:
        body = {"name": fields.pop("name", "dispatch"), "task": {"type": "shell", "argv": argv}, **fields}
        response = self.client.post("/v1/jobs", json=body)
        assert response.status_code == 201, response.text
        job: Job = response.json()
        return job

    def job(self, job_id: str) -> Job:
        job: Job = self.client.get(f"/v1/jobs/{job_id}").json()
        return job

    def wait_done(self, job_ids: list[str], timeout_s: float) -> dict[str, Job]:
        done: dict[str, Job] = {}
        poll(lambda: all(j in done or self._settled(j, done) for j in job_ids), timeout_s,
             f"{len(job_ids)} jobs to complete")
        return done

    def _settled(self, job_id: str, done: dict[str, Job]) -> bool:
        job = self.job(job_id)
        assert job["status"] not in {"failed", "cancelled"}, job
        if job["status"] == "completed":
            done[job_id] = job
        return job_id in done


def at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@pytest.fixture
def aging_step_s() -> float:
    return AGING_STEP_S


@pytest.fixture
def stack(test_settings: Settings, topics_ready: Topics, services: dict[str, ServiceProcess], tmp_path: Path,
          unique_name: str, aging_step_s: float) -> Iterator[Stack]:
    settings = test_settings.with_(api_url=f"http://127.0.0.1:{free_port()}", aging_step_s=aging_step_s)
    names = ["state-processor", "dispatcher", "projector", "api"]
    with api_stack(settings, services, tmp_path, unique_name, names) as client:
        yield Stack(settings, services, tmp_path, client)


@pytest.mark.parametrize("aging_step_s", [10.0])  # the default: 20 submissions take well under a step
def test_one_slot_runs_queued_jobs_in_priority_order(stack: Stack, tmp_path: Path, aging_step_s: float) -> None:
    # Given 20 jobs of mixed priority, queued while no worker runs; each appends its number to a file
    ran = tmp_path / "order"
    priorities = [(n * 7) % 10 + 1 for n in range(20)]
    jobs = [stack.submit(["sh", "-c", f"echo {n} >> {ran}"], priority=p) for n, p in enumerate(priorities)]
    assert {j["status"] for j in jobs} == {"queued"}
    queued = [at(stack.job(j["job_id"])["queued_at"]) for j in jobs]

    # When a worker with one slot starts
    stack.start_worker("worker", "--slots", "1")
    stack.wait_done([j["job_id"] for j in jobs], timeout_s=90)

    # Then they ran one at a time in priority order (all were queued within one aging step), and
    # first come, first served within a priority
    assert max(queued) - min(queued) < timedelta(seconds=aging_step_s)
    order = [int(line) for line in ran.read_text().split()]
    assert order == sorted(range(20), key=lambda n: (priorities[n], queued[n]))


def test_a_priority_10_job_is_not_starved_by_a_flood_of_priority_1_jobs(stack: Stack, tmp_path: Path) -> None:
    # Given one worker with one slot, and a flood of priority-1 jobs arriving faster than it runs them
    ran = tmp_path / "order"
    stack.start_worker("worker", "--slots", "1")
    poll(lambda: stack.client.get("/v1/workers").json()["items"], 60, "the worker to register")
    flood: list[str] = []

    def urgent() -> None:
        flood.append(stack.submit(["sh", "-c", f"sleep 0.2; echo u >> {ran}"], priority=1)["job_id"])

    for _ in range(5):
        urgent()
    # When a priority-10 job joins, and the flood goes on at about twice the worker's pace
    slow = stack.submit(["sh", "-c", f"echo slow >> {ran}"], priority=10, name="slow")["job_id"]
    started = time.monotonic()
    while time.monotonic() - started < 12:
        urgent()
        time.sleep(0.1)  # pacing of the flood, not synchronisation

    # Then the slow job runs while the flood still waits, within its aging bound
    done = stack.wait_done([slow], timeout_s=60)[slow]
    assert "u" in ran.read_text().split("slow", 1)[1], "urgent jobs were still waiting when it ran"
    bound = at(done["queued_at"]).timestamp() + 9 * AGING_STEP_S
    urgent_jobs = [stack.job(j) for j in flood]
    before = [j for j in urgent_jobs if j["started_at"] and at(j["started_at"]) < at(done["started_at"])]
    # only urgent jobs ranked ahead of it (queued before its key) ran first ...
    assert all(at(j["queued_at"]).timestamp() <= bound for j in before)
    # ... and every one that was ranked ahead did run first
    ahead = [j for j in urgent_jobs if at(j["queued_at"]).timestamp() < bound]
    assert {j["job_id"] for j in ahead} <= {j["job_id"] for j in before}
    waited = (at(done["started_at"]) - at(done["queued_at"])).total_seconds()
    print(f"priority 10 waited {waited:.1f} s behind {len(before)} urgent jobs (9 * step = {9 * AGING_STEP_S} s)")


def test_labels_choose_the_worker_and_an_oversize_job_says_why_it_waits(stack: Stack) -> None:
    # Given a plain worker and a gpu=true worker, 4 GiB each
    stack.start_worker("plain", "--slots", "2", "--memory-mb", "4096")
    stack.start_worker("gpu", "--slots", "2", "--memory-mb", "4096", "--label", "gpu=true")
    workers = poll(lambda: (items := stack.client.get("/v1/workers").json()["items"]) and len(
        [w for w in items if w["status"] == "active"]) == 2 and items, 60, "both workers to register")
    gpu_worker = next(w["worker_id"] for w in workers if w["labels"].get("gpu") == "true")

    # When a job needs more memory than any worker has, and others need the gpu label or nothing
    huge = stack.submit(["true"], name="huge", priority=1, requirements={"memory_mb": 100_000})["job_id"]
    gpu_jobs = [stack.submit(["true"], name="gpu", requirements={"labels": {"gpu": "true"}})["job_id"]
                for _ in range(6)]
    plain_jobs = [stack.submit(["true"], name="plain")["job_id"] for _ in range(6)]

    # Then the gpu jobs ran only on the gpu worker, everything else ran around the huge job
    done = stack.wait_done(gpu_jobs + plain_jobs, timeout_s=60)
    assert {done[j]["worker_id"] for j in gpu_jobs} == {gpu_worker}
    # And the huge one stays queued, saying why
    job = stack.job(huge)
    assert job["status"] == "queued" and job["worker_id"] is None
    assert job["waiting_reason"] == ("needs memory_mb=100000 but the most any live worker of queue "
                                     "'default' declares is 4096")
    assert stack.job(gpu_jobs[0])["waiting_reason"] is None


    # When the gpu worker shuts down, every dispatcher instance hears of it (the workers topic)
    stack.services["gpu"].stop()
    poll(lambda: f"worker {gpu_worker} departed" in stack.services["dispatcher"].log_path.read_text(), 30,
         "the dispatcher to drop the departed worker's credits")
    # and a gpu job now waits, saying why
    late = stack.submit(["true"], name="gpu-late", requirements={"labels": {"gpu": "true"}})["job_id"]
    reason = poll(lambda: stack.job(late)["waiting_reason"], 30, "the read model to see the worker gone")
    assert reason == "needs label gpu=true but no live worker of queue 'default' has it"
    assert stack.job(late)["status"] == "queued"


@pytest.mark.parametrize("aging_step_s", [10.0])
def test_patching_a_queued_jobs_priority_moves_it_in_the_queue(stack: Stack, tmp_path: Path,
                                                               aging_step_s: float) -> None:
    # Given five queued jobs of equal priority and no worker yet
    ran = tmp_path / "order"
    jobs = [stack.submit(["sh", "-c", f"echo {n} >> {ran}"], priority=5)["job_id"] for n in range(5)]

    # When the last one's priority is raised to 1 before a worker with one slot starts
    patched = stack.client.patch(f"/v1/jobs/{jobs[-1]}", json={"priority": 1})
    assert patched.status_code == 200, patched.text
    assert patched.json()["priority"] == 1 and patched.json()["status"] == "queued"
    stack.start_worker("worker", "--slots", "1")
    stack.wait_done(jobs, timeout_s=90)

    # Then it ran first, and the others in the order they came
    assert [int(line) for line in ran.read_text().split()] == [4, 0, 1, 2, 3]

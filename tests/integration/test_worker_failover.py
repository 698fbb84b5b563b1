"""Failover against the real broker, Postgres and worker processes: a worker killed with -9, a
worker frozen with SIGSTOP past its lease, draining over HTTP and on SIGTERM, and registration.

Jobs print their worker's pid (``$PPID`` of the ``sh`` the worker starts), so a result names the
worker, and so the attempt, it came from. Their first run is long and later runs short (a marker
file tells them apart), so that the scenario happens in the middle of the first run.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from jobstream.config import Settings
from jobstream.infra.process import free_port
from jobstream.infra.topics import Topics
from jobstream.schemas import WorkerLost
from tests.integration.harness import ServiceProcess, TopicReader, api_stack, poll

Row = dict[str, Any]
WHO_AM_I = "sleep {s}; echo $PPID"  # $PPID of the sh: the worker process


def first_run_long(marker: Path, first_s: float, then_s: float) -> str:
    return f"if [ -e {marker} ]; then sleep {then_s}; else touch {marker}; sleep {first_s}; fi; echo $PPID"


class Stack:
    def __init__(self, settings: Settings, services: dict[str, ServiceProcess], log_dir: Path,
                 client: httpx.Client) -> None:
        self.settings, self.services, self.log_dir, self.client = settings, services, log_dir, client

    def start_worker(self, name: str, *args: str) -> tuple[ServiceProcess, Row]:
        """A worker process, once its registration is visible; returns it and its row."""
        process = ServiceProcess(name, ["worker", *args], self.settings, self.log_dir).start()
        self.services[name] = process
        row = poll(lambda: next((w for w in self.workers() if w["pid"] == process.pid and w["status"] == "active"),
                                None), 60, f"{name} to register")
        return process, row

    def workers(self, **params: Any) -> list[Row]:
        items: list[Row] = self.client.get("/v1/workers", params=params).json()["items"]
        return items

    def worker(self, worker_id: str) -> Row:
        row: Row = self.client.get(f"/v1/workers/{worker_id}").json()
        return row

    def submit(self, script: str, **fields: Any) -> str:
        body = {"name": "failover", "task": {"type": "shell", "argv": ["sh", "-c", script]}, **fields}
        response = self.client.post("/v1/jobs", json=body)
        assert response.status_code == 201, response.text
        return str(response.json()["job_id"])

    def job(self, job_id: str) -> Row:
        row: Row = self.client.get(f"/v1/jobs/{job_id}").json()
        return row

    def running_on(self, job_id: str, worker_id: str) -> Row:
        return poll(lambda: (j := self.job(job_id))["status"] == "running" and j["worker_id"] == worker_id and j,
                    60, f"{job_id} to run on {worker_id}")

    def events(self, job_id: str) -> list[Row]:
        items: list[Row] = self.client.get(f"/v1/jobs/{job_id}/events").json()["items"]
        return items

    def executions(self, job_id: str) -> dict[int, Row]:
        items = self.client.get(f"/v1/jobs/{job_id}/executions").json()["items"]
        return {e["attempt"]: e for e in items}


@pytest.fixture
def stack(test_settings: Settings, topics_ready: Topics, services: dict[str, ServiceProcess], tmp_path: Path,
          unique_name: str) -> Iterator[Stack]:
    settings = test_settings.with_(api_url=f"http://127.0.0.1:{free_port()}")
    names = ["state-processor", "dispatcher", "monitor", "projector", "api"]
    with api_stack(settings, services, tmp_path, unique_name, names) as client:
        yield Stack(settings, services, tmp_path, client)


def _two_workers_and_a_running_job(stack: Stack, script: str) -> tuple[str, ServiceProcess, Row, ServiceProcess, Row]:
    """Workers A and B with one slot each, and a job running on one of them, called A from here on."""
    started = [stack.start_worker(name, "--slots", "1") for name in ("worker-1", "worker-2")]
    job_id = stack.submit(script)
    running = poll(lambda: (j := stack.job(job_id))["status"] == "running" and j, 60, "the job to run")
    (a, worker_a), (b, worker_b) = sorted(started, key=lambda s: s[1]["worker_id"] != running["worker_id"])
    assert worker_a["worker_id"] == running["worker_id"]
    return job_id, a, worker_a, b, worker_b


def test_a_job_on_a_killed_worker_completes_on_another_and_completes_once(stack: Stack) -> None:
    # Given a job running on worker A, and a second worker B with room
    job_id, a, worker_a, b, worker_b = _two_workers_and_a_running_job(
        stack, first_run_long(stack.log_dir / "ran-once", first_s=20, then_s=1))

    # When A is killed with -9 in the middle of the job
    a.kill()

    # Then A is declared lost, and the job runs again on B and completes there
    poll(lambda: stack.worker(worker_a["worker_id"])["status"] == "lost", 30, "A to be declared lost")
    done = poll(lambda: (j := stack.job(job_id))["status"] == "completed" and j, 60, "the job to complete")
    assert done["attempt"] == 2 and done["worker_id"] == worker_b["worker_id"]
    executions = stack.executions(job_id)
    assert executions[1]["status"] == "lost" and executions[2]["status"] == "succeeded"
    assert executions[2]["stdout_tail"].strip() == str(b.pid)

    # And the audit trail: the loss, a new attempt, exactly one completion
    types = [e["type"] for e in stack.events(job_id)]
    assert types == ["JobSubmitted", "JobQueued", "JobAssigned", "JobStarted", "JobFailed", "JobQueued",
                     "JobAssigned", "JobStarted", "JobCompleted"], types
    failed = next(e for e in stack.events(job_id) if e["type"] == "JobFailed")
    assert failed["payload"]["outcome"] == "lost" and worker_a["worker_id"] in failed["payload"]["error"]
    assert failed["payload"]["final"] is False
    reader = TopicReader(stack.settings, Topics(stack.settings.topic_prefix).workers)
    try:
        reader.wait_for(lambda rs: any(isinstance(r, WorkerLost) for r in rs), 30, "WorkerLost on the topic")
        reader.drain(quiet_s=1.0)
        losses = [r for r in reader.records if isinstance(r, WorkerLost)]
    finally:
        reader.close()
    assert [r.envelope.worker_id for r in losses] == [worker_a["worker_id"]]
    assert [w["worker_id"] for w in stack.workers(status="lost")] == [worker_a["worker_id"]]


def test_a_frozen_worker_past_its_lease_is_fenced_when_it_wakes(stack: Stack) -> None:
    # Given a job running on worker A, and a second worker B with room
    job_id, a, worker_a, b, worker_b = _two_workers_and_a_running_job(
        stack, first_run_long(stack.log_dir / "ran-once", first_s=3, then_s=1))

    # When A is frozen past its lease (its job's process, in a session of its own, runs on)
    a.signal(signal.SIGSTOP)
    try:
        done = poll(lambda: (j := stack.job(job_id))["status"] == "completed" and j, 60,
                    "the job to complete elsewhere")
        assert stack.worker(worker_a["worker_id"])["status"] == "lost"
    finally:
        a.signal(signal.SIGCONT)

    # Then A's late report of attempt 1 is rejected, and the result stays attempt 2's
    rejected = poll(lambda: [e for e in stack.events(job_id) if e["type"] == "ReportRejected"], 30,
                    "the late report to be rejected")
    assert [(r["payload"]["attempt"], r["payload"]["current_attempt"]) for r in rejected] == [(1, 2)]
    assert rejected[0]["payload"]["report_type"] == "ReportFinished"
    assert rejected[0]["payload"]["worker_id"] == worker_a["worker_id"]
    job = stack.job(job_id)
    assert job["status"] == "completed" and job["attempt"] == 2 and job == {**done, **{k: job[k] for k in (
        "seq", "updated_at")}}
    executions = stack.executions(job_id)
    assert executions[1]["status"] == "lost"
    assert executions[2]["status"] == "succeeded" and executions[2]["stdout_tail"].strip() == str(b.pid)
    assert [e["type"] for e in stack.events(job_id)].count("JobCompleted") == 1

    # And A, awake, learned it was lost and registered afresh
    poll(lambda: stack.worker(worker_a["worker_id"])["status"] == "active", 30, "A to register again")


def test_draining_over_http_finishes_what_runs_and_takes_nothing_new(stack: Stack) -> None:
    # Given a worker running a job
    c, worker_c = stack.start_worker("worker-c", "--slots", "2")
    worker_id = worker_c["worker_id"]
    first = stack.submit(WHO_AM_I.format(s=2))
    stack.running_on(first, worker_id)

    # When it is asked to drain
    response = stack.client.post(f"/v1/workers/{worker_id}/drain", params={"reason": "maintenance"})
    assert response.status_code == 202, response.text
    poll(lambda: stack.worker(worker_id)["status"] in {"draining", "deregistered"}, 30, "the worker to drain")
    second = stack.submit("echo never here")

    # Then the running job completes, the worker deregisters and exits, the new job waits
    assert poll(lambda: (j := stack.job(first))["status"] == "completed" and j, 30, "the first job")
    poll(lambda: stack.worker(worker_id)["status"] == "deregistered", 30, "the worker to deregister")
    assert c.process is not None and c.process.wait(30) == 0
    assert stack.job(second)["status"] == "queued"

    # And drain answers 404 for an unknown worker, 409 for one that is gone
    assert stack.client.post("/v1/workers/nobody/drain").status_code == 404
    gone = stack.client.post(f"/v1/workers/{worker_id}/drain")
    assert gone.status_code == 409 and gone.headers["content-type"].startswith("application/problem+json")


def test_two_sigterms_stop_what_runs_and_it_is_queued_again(stack: Stack) -> None:
    d, worker_d = stack.start_worker("worker-d", "--slots", "1")
    job_id = stack.submit("sleep 60")
    stack.running_on(job_id, worker_d["worker_id"])

    d.signal(signal.SIGTERM)
    poll(lambda: stack.worker(worker_d["worker_id"])["status"] == "draining", 30, "the worker to drain")
    assert stack.job(job_id)["status"] == "running"  # the first SIGTERM lets it run
    d.signal(signal.SIGTERM)

    requeued = poll(lambda: (j := stack.job(job_id))["status"] == "queued" and j["attempt"] == 2 and j, 30,
                    "the job to be queued again")
    assert stack.executions(job_id)[1]["status"] == "lost"
    assert requeued["worker_id"] is None
    assert d.process is not None and d.process.wait(30) == 0
    poll(lambda: stack.worker(worker_d["worker_id"])["status"] == "deregistered", 30, "the worker to deregister")


def test_registering_over_http_then_falling_silent(stack: Stack) -> None:
    # Bad bodies are 422s naming each field
    bad = stack.client.post("/v1/workers/register", json={"hostname": "h", "queues": [], "slots": 0, "cpu": "1"})
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} == {"queues", "slots", "cpu", "memory_mb"}
    assert stack.client.get("/v1/workers", params={"label": "no-equals"}).status_code == 422

    # A good one is on the topic and in the read model, with where to read its work
    body = {"worker_id": "rust-1", "hostname": "box", "queues": ["gpu"], "slots": 2, "cpu": 4.0, "memory_mb": 1024,
            "labels": {"gpu": "true"}}
    registered = stack.client.post("/v1/workers/register", json=body)
    assert registered.status_code == 201, registered.text
    answer = registered.json()
    assert answer["worker_id"] == "rust-1" and answer["seq"] == 1
    assert 0 <= answer["assignments_partition"] < stack.settings.partitions
    poll(lambda: [w["worker_id"] for w in stack.workers(label="gpu=true")] == ["rust-1"], 30, "the registration")
    assert stack.workers(label="gpu=false") == []
    assert stack.worker("rust-1")["running_count"] == 0

    # It never heartbeats: the monitor declares it lost
    poll(lambda: stack.worker("rust-1")["status"] == "lost", 30, "the silent worker to be declared lost")


def test_a_worker_that_dies_while_the_monitor_is_down_is_found_after_its_restart(stack: Stack) -> None:
    # Given a job running on worker A, a second worker B, and a monitor that has seen them
    job_id, a, worker_a, b, worker_b = _two_workers_and_a_running_job(
        stack, first_run_long(stack.log_dir / "ran-once", first_s=20, then_s=1))
    poll(lambda: stack.worker(worker_a["worker_id"])["running_count"] == 1, 30, "A's heartbeat to list the job")

    # When the monitor is killed, then A, and only then the monitor comes back
    stack.services["monitor"].kill()
    a.kill()
    stack.services["monitor"] = ServiceProcess("monitor-2", ["worker-monitor"], stack.settings, stack.log_dir).start()

    # Then its table still knows A and what A held: A is declared lost and the job runs on B
    poll(lambda: stack.worker(worker_a["worker_id"])["status"] == "lost", 60, "A to be declared lost")
    done = poll(lambda: (j := stack.job(job_id))["status"] == "completed" and j, 60, "the job to complete")
    assert done["attempt"] == 2 and done["worker_id"] == worker_b["worker_id"]
    assert stack.worker(worker_b["worker_id"])["status"] == "active"  # B, alive throughout, was not declared lost

"""Batches, changes before a job runs, clones and bulk cancels, against the whole real stack.

One stack (state processor, dispatcher, timers, projector, API, two workers) serves the module:
each test uses jobs, queues and labels of its own.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import psycopg
import pytest
from confluent_kafka import Producer
from psycopg import sql

from jobstream.clock import new_job_id
from jobstream.config import Settings
from jobstream.infra.process import free_port, wait_until
from jobstream.infra.topics import Topics, ensure_topics
from jobstream.schemas import JobSpec, ShellTask, SubmitJob, make_codec
from jobstream.streams.kafka_io import command_envelope, partition_for, producer_config
from tests.credentials import auth_headers
from tests.integration.harness import ServiceProcess, end_offsets, poll

T = TypeVar("T")
TRUE = {"type": "shell", "argv": ["true"]}
PROBLEM_JSON = "application/problem+json"


class Stack:
    def __init__(self, settings: Settings, schema: str, api: httpx.Client, processes: dict[str, ServiceProcess]):
        self.settings, self.schema, self.api, self.processes = settings, schema, api, processes

    def statuses(self, job_ids: list[str]) -> dict[str, int]:
        """Projected jobs of ``job_ids`` counted by status, straight from the read model."""
        query = sql.SQL("SELECT status, count(*) FROM {} WHERE job_id = ANY(%s) GROUP BY status").format(
            sql.Identifier(self.schema, "jobs"))
        with psycopg.connect(self.settings.database_url) as conn:
            return {status: n for status, n in conn.execute(query, [job_ids]).fetchall()}

    def job(self, job_id: str) -> dict[str, Any]:
        response = self.api.get(f"/v1/jobs/{job_id}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def submit(self, **fields: Any) -> dict[str, Any]:
        response = self.api.post("/v1/jobs", json={"name": "batch-test", "task": TRUE, **fields})
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body


@pytest.fixture(scope="module")
def stack(infra_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    name = f"t{uuid.uuid4().hex[:12]}"
    port = free_port()
    settings = infra_settings.with_(topic_prefix=f"jobstream-{name}", partitions=3,
                                    api_url=f"http://127.0.0.1:{port}")
    ensure_topics(settings.kafka_bootstrap, Topics(settings.topic_prefix).specs(settings.partitions))
    logs = tmp_path_factory.mktemp("logs")
    commands = {
        "state-processor": ["state-processor"], "dispatcher": ["dispatcher"], "timers": ["timer-processor"],
        "projector": ["projector", "--schema", name], "api": ["api", "--port", str(port), "--schema", name],
        "worker-1": ["worker", "--slots", "8"], "worker-2": ["worker", "--slots", "8"],
    }
    processes = {n: ServiceProcess(n, args, settings, Path(logs)).start() for n, args in commands.items()}
    try:
        with httpx.Client(base_url=settings.api_url, timeout=60, headers=auth_headers(settings)) as client:
            wait_until(lambda: _ready(client), 90, "the API to be ready")
            yield Stack(settings, name, client, processes)
    finally:
        for process in processes.values():
            process.stop()


@pytest.fixture
def show_logs_on_failure(stack: Stack, request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        for name, process in stack.processes.items():
            print(f"----- {name} log -----\n{process.log_tail(60)}")


pytestmark = pytest.mark.usefixtures("show_logs_on_failure")


def _ready(client: httpx.Client) -> bool:
    try:
        return client.get("/readyz").status_code == 200
    except httpx.HTTPError:
        return False


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body: dict[str, Any] = response.json()
    return body


# ---------------------------------------------------------------- POST /v1/jobs:batch
def test_a_batch_with_a_cycle_is_rejected_whole_and_nothing_is_sent(stack: Stack) -> None:
    # Given the commands topic's end offsets
    before = end_offsets(stack.settings, Topics(stack.settings.topic_prefix).commands)
    jobs = [{"ref": "free", "name": "free", "task": TRUE},
            {"ref": "a", "name": "a", "task": TRUE, "depends_on": [{"ref": "free"}, {"ref": "b"}]},
            {"ref": "b", "name": "b", "task": TRUE, "depends_on": [{"ref": "a"}]}]

    # When a batch with a cycle is posted
    body = assert_problem(stack.api.post("/v1/jobs:batch", json={"jobs": jobs}), 422)

    # Then the 422 names the cycle, and no command reached the topic
    assert body["errors"][0]["field"] == "jobs[1].depends_on[1].ref"
    assert "a -> b -> a" in body["errors"][0]["detail"]
    assert end_offsets(stack.settings, Topics(stack.settings.topic_prefix).commands) == before


def test_five_thousand_jobs_in_one_request_all_complete(stack: Stack) -> None:
    jobs = [{"ref": f"j{n}", "name": f"bulk-{n}", "task": TRUE} for n in range(5000)]

    started = time.monotonic()
    response = stack.api.post("/v1/jobs:batch", json={"jobs": jobs})
    accepted_s = time.monotonic() - started

    assert response.status_code == 202, response.text
    answer = response.json()
    assert [j["ref"] for j in answer["jobs"]] == [f"j{n}" for n in range(5000)]
    job_ids = [j["job_id"] for j in answer["jobs"]]
    assert len(set(job_ids)) == 5000 and answer["refs"] == {j["ref"]: j["job_id"] for j in answer["jobs"]}
    poll(lambda: stack.statuses(job_ids).get("completed", 0) == 5000 or None, 600, "5,000 jobs to complete")
    print(f"5,000-job batch accepted in {accepted_s:.2f}s, all done in {time.monotonic() - started:.1f}s")
    assert stack.statuses(job_ids) == {"completed": 5000}


def test_a_retried_batch_with_an_idempotency_key_sends_nothing_again(stack: Stack) -> None:
    body = {"idempotency_key": f"nightly-{uuid.uuid4().hex}",
            "jobs": [{"ref": "x", "name": "x", "task": TRUE}, {"name": "y", "task": TRUE}]}
    first = stack.api.post("/v1/jobs:batch", json=body)
    assert first.status_code == 202, first.text
    job_ids = [j["job_id"] for j in first.json()["jobs"]]
    # Completed: their workers' reports are on the commands topic too, and must be in "before"
    poll(lambda: stack.statuses(job_ids) == {"completed": 2} or None, 120, "the batch to complete")
    before = end_offsets(stack.settings, Topics(stack.settings.topic_prefix).commands)

    again = stack.api.post("/v1/jobs:batch", json=body)

    assert again.status_code == 200, again.text
    assert again.json() == first.json()
    assert end_offsets(stack.settings, Topics(stack.settings.topic_prefix).commands) == before


def test_the_state_processor_never_sees_an_aborted_transaction(stack: Stack) -> None:
    # Given a SubmitJob sent in a transaction that is aborted, then one whose transaction commits,
    # both on the same partition (so the second is decided after the first would have been)
    topics = Topics(stack.settings.topic_prefix)
    codec = make_codec(None)
    aborted = new_job_id()
    partition = partition_for(aborted, stack.settings.partitions)
    committed = next(j for j in iter(new_job_id, None) if partition_for(j, stack.settings.partitions) == partition)
    producer = Producer(producer_config(stack.settings, **{"transactional.id": f"test-{uuid.uuid4().hex}"}))
    producer.init_transactions(30)
    for job_id, finish in ((aborted, producer.abort_transaction), (committed, producer.commit_transaction)):
        command = SubmitJob(envelope=command_envelope(SubmitJob, job_id, "test"),
                            spec=JobSpec(name="txn", task=ShellTask(argv=["true"])))
        producer.begin_transaction()
        producer.produce(topics.commands, key=job_id.encode(), value=codec.encode(command, topics.commands),
                         partition=partition)
        producer.flush(30)  # the records are on the broker before the abort
        finish(30)

    # Then the committed job runs, and the aborted one never existed
    poll(lambda: stack.statuses([committed]) == {"completed": 1} or None, 120, "the committed job to complete")
    assert stack.statuses([aborted]) == {}
    assert stack.api.get(f"/v1/jobs/{aborted}/events").status_code == 404


# ---------------------------------------------------------------- changes before a job runs
def test_patch_of_a_queued_job_changes_its_priority(stack: Stack) -> None:
    job = stack.submit(queue=f"idle-{uuid.uuid4().hex[:8]}", priority=5)  # no worker serves it
    assert job["status"] == "queued"

    response = stack.api.patch(f"/v1/jobs/{job['job_id']}", json={"priority": 2, "timeout_s": 30})

    assert response.status_code == 200, response.text
    assert response.json()["priority"] == 2 and response.json()["spec"]["timeout_s"] == 30
    assert stack.job(job["job_id"])["priority"] == 2
    types = [e["type"] for e in stack.api.get(f"/v1/jobs/{job['job_id']}/events").json()["items"]]
    assert "JobUpdated" in types


def test_patch_of_a_running_job_is_refused_with_the_reason(stack: Stack) -> None:
    job = stack.submit(name="sleeper", task={"type": "shell", "argv": ["sleep", "60"]})
    poll(lambda: stack.job(job["job_id"])["status"] == "running" or None, 60, "the job to run")

    body = assert_problem(stack.api.patch(f"/v1/jobs/{job['job_id']}", json={"priority": 1}), 409)

    assert "running" in body["detail"] and body["job_id"] == job["job_id"]
    assert stack.job(job["job_id"])["priority"] == 5
    assert stack.api.post(f"/v1/jobs/{job['job_id']}/cancel").status_code == 200  # free the slot
    assert_problem(stack.api.patch(f"/v1/jobs/{uuid.uuid4()}", json={"priority": 1}), 404)


def test_pause_and_resume_a_scheduled_job(stack: Stack) -> None:
    at = datetime.now(UTC) + timedelta(hours=1)
    job = stack.submit(name="later", schedule={"at": at.isoformat()})
    assert job["status"] == "scheduled"

    paused = stack.api.post(f"/v1/jobs/{job['job_id']}/pause")
    assert paused.status_code == 200, paused.text
    assert paused.json()["status"] == "paused"

    resumed = stack.api.post(f"/v1/jobs/{job['job_id']}/resume")
    assert resumed.status_code == 200, resumed.text
    assert resumed.json()["status"] == "scheduled"
    assert stack.api.post(f"/v1/jobs/{job['job_id']}/cancel").status_code == 200


def test_clone_submits_a_new_job_with_the_overrides(stack: Stack) -> None:
    queue = f"idle-{uuid.uuid4().hex[:8]}"
    original = stack.submit(name="original", queue=queue, priority=6, labels={"team": "a"},
                            task={"type": "shell", "argv": ["echo", "hi"], "env": {"A": "1"}})

    response = stack.api.post(f"/v1/jobs/{original['job_id']}/clone",
                              json={"name": "copy", "priority": 2, "env": {"B": "2"}})

    assert response.status_code == 201, response.text
    clone = response.json()
    assert clone["job_id"] != original["job_id"] and response.headers["location"] == f"/v1/jobs/{clone['job_id']}"
    assert (clone["name"], clone["priority"], clone["queue"], clone["labels"]) == ("copy", 2, queue, {"team": "a"})
    assert clone["spec"]["task"]["argv"] == ["echo", "hi"] and clone["spec"]["task"]["env"] == {"A": "1", "B": "2"}
    assert stack.job(original["job_id"])["name"] == "original"
    assert_problem(stack.api.post(f"/v1/jobs/{uuid.uuid4()}/clone"), 404)


def test_bulk_cancel_by_label_cancels_exactly_the_matching_jobs(stack: Stack) -> None:
    queue, tag = f"idle-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex[:8]
    matching = [stack.submit(queue=queue, labels={"sweep": tag})["job_id"] for _ in range(3)]
    others = [stack.submit(queue=queue, labels={"sweep": "other"})["job_id"],
              stack.submit(queue=queue)["job_id"]]
    body = {"label": f"sweep={tag}", "request_id": f"req-{tag}"}

    response = stack.api.post("/v1/jobs:cancel", json=body)

    assert response.status_code == 202, response.text
    assert response.json() == {"matched": 3, "cancelled_requested": 3, "request_id": f"req-{tag}"}
    poll(lambda: stack.statuses(matching) == {"cancelled": 3} or None, 30, "the matching jobs to be cancelled")
    assert stack.statuses(others) == {"queued": 2}
    # A retry matches nothing unfinished any more, and the jobs were cancelled once each
    assert stack.api.post("/v1/jobs:cancel", json=body).json()["cancelled_requested"] == 0
    events = stack.api.get(f"/v1/jobs/{matching[0]}/events").json()["items"]
    assert [e["type"] for e in events].count("JobCancelled") == 1

"""The HTTP API against the real Postgres and broker, with a read model in a schema of its own.

The state processor and projector are stood in for by the tests: they consume the command the
API sent, then write the read-model rows and NOTIFY as the projector would.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from psycopg import sql
from psycopg.types.json import Jsonb

from jobstream.api import ApiOptions, create_app
from jobstream.clock import new_job_id
from jobstream.config import Settings
from jobstream.core.ids import job_id_for_idempotency_key
from jobstream.infra.topics import Topics, ensure_topics
from jobstream.projections.payload import record_json
from jobstream.schemas import CancelJob, Command, RedriveJob, RetryJob, SubmitJob, UpdateJob, make_codec
from tests.credentials import auth_headers
from tests.integration.harness import end_offsets

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
SHELL_JOB = {"name": "echo", "task": {"type": "shell", "argv": ["echo", "hi"]}}
PROBLEM_JSON = "application/problem+json"
Client = Callable[..., TestClient]


# ---------------------------------------------------------------- fixtures
@pytest.fixture
def db(database_url: str, schema: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
        yield conn


@pytest.fixture
def topics(test_settings: Settings) -> Topics:
    topics = Topics(test_settings.topic_prefix)
    ensure_topics(test_settings.kafka_bootstrap, topics.specs(test_settings.partitions))
    return topics


@pytest.fixture
def make_client(test_settings: Settings, schema: str, topics: Topics) -> Iterator[Client]:
    """Started apps (lifespan run: pool, listener, producer); closed at the end of the test."""
    started: list[TestClient] = []

    def make(settings: Settings = test_settings, **options: Any) -> TestClient:
        # recheck_s is long so that only the NOTIFY can wake a waiting request in time
        defaults: dict[str, Any] = {"wait_s": 20.0, "recheck_s": 60.0}
        app = create_app(settings, schema=schema, options=ApiOptions(**{**defaults, **options}))
        client = TestClient(app, headers=auth_headers(settings)).__enter__()
        started.append(client)
        return client

    yield make
    for client in reversed(started):
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: Client) -> TestClient:
    return make_client()


@pytest.fixture
def commands(test_settings: Settings, topics: Topics) -> Iterator[Callable[[], Command]]:
    """Reads the commands the API sends, in order, from the start of the commands topic."""
    consumer = Consumer({"bootstrap.servers": test_settings.kafka_bootstrap, "group.id": "unused",
                         "enable.auto.commit": False})
    consumer.assign([TopicPartition(topics.commands, p, OFFSET_BEGINNING) for p in range(test_settings.partitions)])
    codec = make_codec(None)

    def next_command(timeout_s: float = 20.0) -> Command:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            message = consumer.poll(0.2)
            if message is None or message.error():
                continue
            record = codec.decode(message.value(), topic=message.topic(), partition=message.partition(),
                                  offset=message.offset())
            assert isinstance(record, SubmitJob | CancelJob | UpdateJob | RetryJob | RedriveJob)
            return record
        raise AssertionError("no command arrived on the commands topic")

    yield next_command
    consumer.close()


@pytest.fixture
def background() -> Iterator[Callable[..., Future[Any]]]:
    with ThreadPoolExecutor(max_workers=4) as pool:
        yield pool.submit


# ---------------------------------------------------------------- the projector's part, by hand
def insert(db: psycopg.Connection[Any], table: str, **row: Any) -> None:
    values = {k: Jsonb(v) if isinstance(v, dict | list) else v for k, v in row.items()}
    query = sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, values)),
        sql.SQL(", ").join(sql.Placeholder() * len(values)))
    db.execute(query, list(values.values()))


def insert_job(db: psycopg.Connection[Any], job_id: str, **fields: Any) -> None:
    row: dict[str, Any] = {"job_id": job_id, "seq": 2, "name": "echo", "queue": "default", "priority": 5,
                           "status": "queued", "spec": {"name": "echo", "task": {"argv": ["echo", "hi"]}},
                           "labels": {}, "attempt": 1, "submitted_at": T0, "updated_at": T0}
    row.update(fields)
    insert(db, "jobs", **row)


def insert_event(db: psycopg.Connection[Any], job_id: str, seq: int, type_: str, payload: dict[str, Any],
                 causation_id: str | None = None) -> None:
    insert(db, "job_events", event_id=f"{job_id}:{seq}", job_id=job_id, seq=seq, type=type_,
           occurred_at=T0 + timedelta(seconds=seq), actor="api", causation_id=causation_id, payload=payload)


def notify(db: psycopg.Connection[Any], schema: str, job_id: str) -> None:
    db.execute("SELECT pg_notify(%s, %s)", (f"{schema}_jobs", job_id))


def commit_and_notify(db: psycopg.Connection[Any], schema: str, job_id: str,
                      write: Callable[[], object]) -> None:
    """Write rows and NOTIFY in one transaction, as the projector does after each commit."""
    with db.transaction():
        write()
        notify(db, schema, job_id)


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["title"] and body["type"]
    return body


# ---------------------------------------------------------------- POST /v1/jobs
def test_submit_answers_201_only_once_the_job_is_visible(
        client: TestClient, commands: Callable[[], Command], db: psycopg.Connection[Any], schema: str,
        background: Callable[..., Future[Any]]) -> None:
    pending = background(client.post, "/v1/jobs", json={**SHELL_JOB, "priority": 3, "labels": {"team": "a"}})

    command = commands()
    assert isinstance(command, SubmitJob)
    assert command.envelope.type == "SubmitJob"
    assert (command.envelope.actor, command.envelope.namespace) == ("jwt:tests", "default")  # the caller
    assert command.spec.priority == 3 and command.spec.labels == {"team": "a"}
    job_id = command.envelope.job_id
    assert not pending.done()  # still waiting for the projection

    commit_and_notify(db, schema, job_id, lambda: insert_job(db, job_id, seq=2, priority=3, status="queued"))

    response = pending.result(timeout=10)  # well under recheck_s: the NOTIFY woke it
    assert response.status_code == 201, response.text
    assert response.json()["job_id"] == job_id and response.json()["status"] == "queued"
    assert response.headers["location"] == f"/v1/jobs/{job_id}"


def test_same_idempotency_key_answers_200_with_the_same_job_and_sends_nothing(
        client: TestClient, commands: Callable[[], Command], db: psycopg.Connection[Any], schema: str,
        background: Callable[..., Future[Any]], test_settings: Settings, topics: Topics) -> None:
    body = {**SHELL_JOB, "idempotency_key": "nightly-2026-01-01"}
    pending = background(client.post, "/v1/jobs", json=body)
    job_id = commands().envelope.job_id
    assert job_id == job_id_for_idempotency_key("nightly-2026-01-01")
    commit_and_notify(db, schema, job_id, lambda: insert_job(db, job_id, idempotency_key=body["idempotency_key"]))
    assert pending.result(timeout=10).status_code == 201
    sent_before = _end_offsets(test_settings, topics.commands)

    again = client.post("/v1/jobs", json=body)

    assert again.status_code == 200, again.text
    assert again.json()["job_id"] == job_id and again.json()["status"] == "queued"
    assert again.headers["location"] == f"/v1/jobs/{job_id}"
    assert _end_offsets(test_settings, topics.commands) == sent_before  # no second command


def test_a_reused_idempotency_key_with_another_body_is_409_and_sends_nothing(
        client: TestClient, commands: Callable[[], Command], db: psycopg.Connection[Any], schema: str,
        background: Callable[..., Future[Any]], test_settings: Settings, topics: Topics) -> None:
    body = {**SHELL_JOB, "idempotency_key": "report-7"}
    pending = background(client.post, "/v1/jobs", json=body)
    command = commands()
    assert isinstance(command, SubmitJob)
    job_id = command.envelope.job_id

    def projected() -> None:  # the job and its JobSubmitted, as the projector writes them
        insert_job(db, job_id, idempotency_key="report-7")
        insert_event(db, job_id, 1, "JobSubmitted", {"spec": record_json(command.spec)},
                     causation_id=command.envelope.command_id)

    commit_and_notify(db, schema, job_id, projected)
    assert pending.result(timeout=10).status_code == 201
    sent_before = _end_offsets(test_settings, topics.commands)

    assert client.post("/v1/jobs", json=body).status_code == 200  # the same body: the same job
    conflict = assert_problem(client.post("/v1/jobs", json={**body, "priority": 1}), 409)
    assert conflict["type"] == "urn:jobstream:problem:idempotency-conflict" and conflict["job_id"] == job_id
    assert _end_offsets(test_settings, topics.commands) == sent_before


def test_a_racing_submit_rejected_as_existing_answers_with_the_existing_job(
        client: TestClient, commands: Callable[[], Command], db: psycopg.Connection[Any], schema: str,
        background: Callable[..., Future[Any]]) -> None:
    pending = background(client.post, "/v1/jobs", json={**SHELL_JOB, "idempotency_key": "race"})
    command = commands()
    job_id = command.envelope.job_id

    def other_submit_won() -> None:
        insert_job(db, job_id, seq=3)
        insert_event(db, job_id, 1, "JobSubmitted", {"spec": {}}, causation_id="someone-else")
        insert_event(db, job_id, 3, "CommandRejected", {
            "command_id": command.envelope.command_id, "command_type": "SubmitJob",
            "reason": f"job {job_id} already exists"}, causation_id=command.envelope.command_id)

    commit_and_notify(db, schema, job_id, other_submit_won)
    response = pending.result(timeout=10)
    assert response.status_code == 200, response.text
    assert response.json()["job_id"] == job_id


def test_a_submit_the_state_processor_rejects_is_422_with_its_reason(
        client: TestClient, commands: Callable[[], Command], db: psycopg.Connection[Any], schema: str,
        background: Callable[..., Future[Any]]) -> None:
    pending = background(client.post, "/v1/jobs", json=SHELL_JOB)
    command = commands()
    job_id, command_id = command.envelope.job_id, command.envelope.command_id
    commit_and_notify(db, schema, job_id, lambda: insert_event(db, job_id, 1, "CommandRejected", {
        "command_id": command_id, "command_type": "SubmitJob", "reason": "depends_on: not supported"},
        causation_id=command_id))

    body = assert_problem(pending.result(timeout=10), 422)
    assert body["detail"] == "depends_on: not supported"
    assert body["job_id"] == job_id


def test_depends_on_an_unknown_job_is_422_unless_it_may_come_later_and_then_the_wait_says_why(
        client: TestClient, commands: Callable[[], Command], db: psycopg.Connection[Any], schema: str,
        background: Callable[..., Future[Any]]) -> None:
    known, missing = new_job_id(), new_job_id()
    insert_job(db, known)
    body = assert_problem(client.post("/v1/jobs", json={**SHELL_JOB, "depends_on": [known, missing]}), 422)
    assert [e["field"] for e in body["errors"]] == ["depends_on[1].job_id"] and missing in body["errors"][0]["detail"]

    pending = background(client.post, "/v1/jobs", json={**SHELL_JOB, "depends_on": [known, missing],
                                                          "upstreams_may_come_later": True})
    command = commands()
    assert isinstance(command, SubmitJob) and [d.job_id for d in command.spec.depends_on] == [known, missing]
    job_id = command.envelope.job_id
    spec = {"name": "echo", "task": {"argv": ["true"]}, "depends_on": [{"job_id": known}, {"job_id": missing}]}
    commit_and_notify(db, schema, job_id, lambda: insert_job(db, job_id, status="pending", spec=spec))
    assert pending.result(timeout=10).status_code == 201
    reason = client.get(f"/v1/jobs/{job_id}").json()["waiting_reason"]
    assert reason == f"waiting for upstream jobs that have not been submitted: {missing}"


def test_submit_answers_202_pending_when_the_projection_lags_past_the_bound(
        make_client: Client, commands: Callable[[], Command]) -> None:
    response = make_client(wait_s=0.3).post("/v1/jobs", json=SHELL_JOB)

    assert response.status_code == 202, response.text
    job_id = commands().envelope.job_id  # the command was sent all the same
    assert response.json()["job_id"] == job_id and response.json()["status"] == "pending"
    assert response.headers["location"] == f"/v1/jobs/{job_id}"


@pytest.mark.parametrize(("raw", "status", "field"), [
    (b'{"name": "x", "task": {"type": "shell", "argv": ["a"]', 400, None),
    (json.dumps({**SHELL_JOB, "priority": 10**12}).encode(), 422, "priority"),
    (json.dumps({**SHELL_JOB, "priority": "urgent"}).encode(), 422, "priority"),
    (json.dumps({**SHELL_JOB, "task": {"type": "shell", "argv": "echo"}}).encode(), 422, "task.argv"),
    (json.dumps({**SHELL_JOB, "queue": "bad queue"}).encode(), 422, "queue"),
])
def test_bad_submissions_are_problems_not_500s(client: TestClient, raw: bytes, status: int,
                                                field: str | None) -> None:
    body = assert_problem(client.post("/v1/jobs", content=raw, headers={"content-type": "application/json"}),
                          status)
    if field is not None:
        assert field in [error["field"] for error in body["errors"]]


# ---------------------------------------------------------------- POST /v1/jobs/{id}/cancel
def test_cancel_waits_until_the_job_is_cancelled(
        client: TestClient, commands: Callable[[], Command], db: psycopg.Connection[Any], schema: str,
        background: Callable[..., Future[Any]]) -> None:
    job_id = new_job_id()
    insert_job(db, job_id, seq=2, status="queued")
    pending = background(client.post, f"/v1/jobs/{job_id}/cancel", json={"reason": "not needed"})

    command = commands()
    assert isinstance(command, CancelJob) and command.reason == "not needed"
    assert command.envelope.job_id == job_id and not pending.done()
    commit_and_notify(db, schema, job_id, lambda: db.execute(
        "UPDATE jobs SET seq = 3, status = 'cancelled' WHERE job_id = %s", (job_id,)))

    response = pending.result(timeout=10)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "cancelled" and response.json()["seq"] == 3


def test_cancel_rejected_by_the_state_processor_is_409(
        client: TestClient, commands: Callable[[], Command], db: psycopg.Connection[Any], schema: str,
        background: Callable[..., Future[Any]]) -> None:
    job_id = new_job_id()
    insert_job(db, job_id, seq=4, status="running")
    pending = background(client.post, f"/v1/jobs/{job_id}/cancel")
    command_id = commands().envelope.command_id

    def completed_first() -> None:
        db.execute("UPDATE jobs SET seq = 6, status = 'completed' WHERE job_id = %s", (job_id,))
        insert_event(db, job_id, 6, "CommandRejected", {
            "command_id": command_id, "command_type": "CancelJob", "reason": "job is already completed"},
            causation_id=command_id)

    commit_and_notify(db, schema, job_id, completed_first)
    assert assert_problem(pending.result(timeout=10), 409)["detail"] == "job is already completed"


def test_cancel_of_an_unknown_or_finished_job_sends_nothing(client: TestClient, db: psycopg.Connection[Any]) -> None:
    assert_problem(client.post(f"/v1/jobs/{new_job_id()}/cancel"), 404)
    job_id = new_job_id()
    insert_job(db, job_id, status="completed")
    body = assert_problem(client.post(f"/v1/jobs/{job_id}/cancel"), 409)
    assert body["detail"] == "job is already completed"
    assert_problem(client.post(f"/v1/jobs/{job_id}/cancel", json={"reason": 5}), 422)


# ---------------------------------------------------------------- reads
def test_get_job_returns_the_row_with_utc_times_and_the_spec_as_stored(
        client: TestClient, db: psycopg.Connection[Any]) -> None:
    job_id = new_job_id()
    spec = {"name": "echo", "queue": "default", "task": {"argv": ["echo", "hi"], "env": {}}}
    insert_job(db, job_id, spec=spec, labels={"team": "a"}, submitted_at=datetime(2026, 1, 1, 14, 0,
               tzinfo=UTC) + timedelta(microseconds=5))

    body = client.get(f"/v1/jobs/{job_id}").json()

    assert body["job_id"] == job_id and body["status"] == "queued" and body["spec"] == spec
    assert body["labels"] == {"team": "a"}
    assert body["submitted_at"] == "2026-01-01T14:00:00.000005Z"
    assert body["updated_at"] == "2026-01-01T12:00:00Z"
    assert body["finished_at"] is None


def test_unknown_ids_are_404_problems(client: TestClient) -> None:
    body = assert_problem(client.get(f"/v1/jobs/{new_job_id()}"), 404)
    assert body["type"] == "urn:jobstream:problem:not-found"
    for path in (f"/v1/jobs/{new_job_id()}/events", f"/v1/jobs/{new_job_id()}/executions",
                 "/v1/executions/nope.1", "/v1/workers/nope"):
        assert_problem(client.get(path), 404)
    assert_problem(client.get("/v1/jobs/a%00b"), 422)  # NUL never reaches Postgres


def test_list_jobs_pages_newest_first_with_an_opaque_cursor(client: TestClient, db: psycopg.Connection[Any]) -> None:
    ids = [new_job_id(now_ms=1_700_000_000_000 + i) for i in range(5)]
    for i, job_id in enumerate(ids):
        insert_job(db, job_id, status="completed" if i % 2 else "queued", queue="q", priority=i + 1)

    seen: list[str] = []
    cursor = None
    for _ in range(5):
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get("/v1/jobs", params=params).json()
        seen += [job["job_id"] for job in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(ids))

    queued = client.get("/v1/jobs", params={"status": "queued", "queue": "q"}).json()
    assert [j["job_id"] for j in queued["items"]] == [ids[4], ids[2], ids[0]] and queued["next_cursor"] is None
    both = client.get("/v1/jobs", params=[("status", "queued"), ("status", "completed"), ("priority", 2)]).json()
    assert [j["job_id"] for j in both["items"]] == [ids[1]]
    assert client.get("/v1/jobs", params={"name": "nothing"}).json() == {"items": [], "next_cursor": None}


def test_list_jobs_sorts_by_submission_time_not_by_id(client: TestClient, db: psycopg.Connection[Any]) -> None:
    # Given ids whose order is not the submissions' (a key-derived id, a run of a schedule) and a
    # row without submitted_at
    parent = new_job_id(now_ms=1_700_000_200_000)
    jobs = {job_id_for_idempotency_key("nightly"): T0 + timedelta(seconds=3), f"{parent}.r1": T0 + timedelta(seconds=2),
            new_job_id(now_ms=1_700_000_300_000): T0 + timedelta(seconds=1), parent: T0, new_job_id(): None}
    for job_id, submitted_at in jobs.items():
        insert_job(db, job_id, submitted_at=submitted_at, name="order")

    # When they are listed one per page, Then the last submitted come first, the unsubmitted last
    seen: list[str] = []
    cursor = None
    for _ in jobs:
        page = client.get("/v1/jobs", params={"name": "order", "limit": 1, **({"cursor": cursor} if cursor else {})})
        seen += [job["job_id"] for job in page.json()["items"]]
        if (cursor := page.json()["next_cursor"]) is None:
            break
    assert seen == list(jobs)


def test_list_jobs_bounds_the_submission_time_and_pages_within_it(client: TestClient,
                                                                   db: psycopg.Connection[Any]) -> None:
    ids = [new_job_id(now_ms=1_700_000_000_000 + i) for i in range(5)]
    for i, job_id in enumerate(ids):
        insert_job(db, job_id, name="ranged", submitted_at=T0 + timedelta(hours=i))
    window = {"name": "ranged", "submitted_since": (T0 + timedelta(hours=1)).isoformat(),
              "submitted_until": (T0 + timedelta(hours=4)).isoformat()}
    first = client.get("/v1/jobs", params={**window, "limit": 2}).json()
    assert [j["job_id"] for j in first["items"]] == [ids[3], ids[2]]
    second = client.get("/v1/jobs", params={**window, "limit": 2, "cursor": first["next_cursor"]}).json()
    assert [j["job_id"] for j in second["items"]] == [ids[1]] and second["next_cursor"] is None
    assert [e["field"] for e in assert_problem(client.get("/v1/jobs", params={"submitted_since": "2026-01-01T12:00"}),
                                               422)["errors"]] == ["submitted_since"]  # a time needs its zone


def test_label_filters_select_jobs_having_every_label_and_a_mistyped_filter_is_400(
        client: TestClient, db: psycopg.Connection[Any]) -> None:
    ml, ml_gold, web = (new_job_id(now_ms=1_700_000_100_000 + i) for i in range(3))
    insert_job(db, ml, labels={"team": "ml"})
    insert_job(db, ml_gold, labels={"team": "ml", "tier": "gold"})
    insert_job(db, web, labels={"team": "web"})
    listed = lambda *labels: [j["job_id"] for j in client.get(  # noqa: E731
        "/v1/jobs", params=[("label", label) for label in labels]).json()["items"]]
    assert listed("team=ml") == [ml_gold, ml]
    assert listed("team=ml", "tier=gold") == [ml_gold]
    assert listed("team=nobody") == []
    assert [e["field"] for e in assert_problem(client.get("/v1/jobs", params={"label": "team"}), 422)["errors"]] == [
        "label"]
    assert [e["field"] for e in assert_problem(client.get("/v1/jobs", params={"labels": "team=ml"}), 400)["errors"]] \
        == ["labels"]


@pytest.mark.parametrize(("params", "field"), [
    ({"status": "exploded"}, "status"),
    ({"priority": "high"}, "priority"),
    ({"priority": 99}, "priority"),
    ({"limit": 0}, "limit"),
    ({"limit": 10**20}, "limit"),
    ({"cursor": "!!garbage!!"}, "cursor"),
    ({"queue": "a\x00b"}, "queue"),
])
def test_bad_list_filters_are_422_naming_the_field(client: TestClient, params: dict[str, Any], field: str) -> None:
    body = assert_problem(client.get("/v1/jobs", params=params), 422)
    assert [error["field"] for error in body["errors"]] == [field]


def test_events_are_the_audit_trail_in_seq_order(client: TestClient, db: psycopg.Connection[Any]) -> None:
    job_id = new_job_id()
    insert_job(db, job_id)
    insert_event(db, job_id, 2, "JobQueued", {"queue": "default", "attempt": 1}, causation_id="c1")
    insert_event(db, job_id, 1, "JobSubmitted", {"spec": {"name": "echo"}}, causation_id="c1")

    events = client.get(f"/v1/jobs/{job_id}/events").json()["items"]

    assert [(e["seq"], e["type"]) for e in events] == [(1, "JobSubmitted"), (2, "JobQueued")]
    assert events[0] == {"event_id": f"{job_id}:1", "job_id": job_id, "seq": 1, "type": "JobSubmitted",
                         "occurred_at": "2026-01-01T12:00:01Z", "actor": "api", "causation_id": "c1",
                         "correlation_id": None, "payload": {"spec": {"name": "echo"}}, "namespace": "default"}
    assert client.get(f"/v1/jobs/{job_id}/events", params={"after_seq": 1}).json()["items"][0]["seq"] == 2


def test_executions_by_job_by_id_and_filtered(client: TestClient, db: psycopg.Connection[Any]) -> None:
    job_id = new_job_id()
    insert_job(db, job_id, attempt=2)
    insert(db, "executions", execution_id=f"{job_id}.1", job_id=job_id, attempt=1, worker_id="w1",
           status="failed", started_at=T0, finished_at=T0 + timedelta(seconds=3), exit_code=2, error="boom")
    insert(db, "executions", execution_id=f"{job_id}.2", job_id=job_id, attempt=2, worker_id="w2",
           status="running", started_at=T0 + timedelta(seconds=5))

    mine = client.get(f"/v1/jobs/{job_id}/executions").json()["items"]
    assert [(e["attempt"], e["status"], e["worker_id"], e["exit_code"]) for e in mine] == [
        (1, "failed", "w1", 2), (2, "running", "w2", None)]
    assert mine[0]["finished_at"] == "2026-01-01T12:00:03Z" and mine[0]["error"] == "boom"

    one = client.get(f"/v1/executions/{job_id}.1").json()
    assert one["execution_id"] == f"{job_id}.1" and one["job_id"] == job_id
    # executions filtered by their job's labels
    ml, web = f"ml-{job_id}", f"web-{job_id}"
    insert_job(db, other := new_job_id(), labels={"team": web})
    insert(db, "executions", execution_id=f"{other}.1", job_id=other, attempt=1, worker_id="w3", status="running")
    db.execute("UPDATE jobs SET labels = %s WHERE job_id = %s", (Jsonb({"team": ml}), job_id))
    of_team = lambda team: {e["execution_id"] for e in client.get(  # noqa: E731
        "/v1/executions", params={"label": f"team={team}"}).json()["items"]}
    assert of_team(ml) == {f"{job_id}.1", f"{job_id}.2"} and of_team(web) == {f"{other}.1"}
    by_worker = client.get("/v1/executions", params={"worker_id": "w2"}).json()["items"]
    assert [e["execution_id"] for e in by_worker] == [f"{job_id}.2"]
    failed = client.get("/v1/executions", params={"job_id": job_id, "status": "failed"}).json()["items"]
    assert [e["attempt"] for e in failed] == [1]
    assert assert_problem(client.get("/v1/executions", params={"status": "exploded"}), 422)["errors"][0][
        "field"] == "status"
    assert client.get(f"/v1/jobs/{new_job_id()}/executions").status_code == 404


def test_workers_list_and_get(client: TestClient, db: psycopg.Connection[Any]) -> None:
    for name, status in (("w-a", "active"), ("w-b", "lost"), ("w-c", "active")):
        insert(db, "workers", worker_id=name, seq=1, status=status, hostname="h", queues=["default"], slots=2,
               labels={"zone": "1"}, running=[], last_heartbeat_at=T0, updated_at=T0)

    active = client.get("/v1/workers", params={"status": "active"}).json()
    assert [w["worker_id"] for w in active["items"]] == ["w-a", "w-c"]
    first = client.get("/v1/workers", params={"limit": 2}).json()
    rest = client.get("/v1/workers", params={"cursor": first["next_cursor"]}).json()
    assert [w["worker_id"] for w in first["items"] + rest["items"]] == ["w-a", "w-b", "w-c"]
    worker = client.get("/v1/workers/w-b").json()
    assert worker["status"] == "lost" and worker["queues"] == ["default"] and worker["labels"] == {"zone": "1"}
    assert worker["last_heartbeat_at"] == "2026-01-01T12:00:00Z"
    assert_problem(client.get("/v1/workers", params={"status": "asleep"}), 422)


# ---------------------------------------------------------------- operations
def test_health_readiness_and_metrics(client: TestClient, db: psycopg.Connection[Any]) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"postgres": "ok", "kafka": "ok", "listener": "ok"}

    job_id = new_job_id()
    insert_job(db, job_id)
    client.get(f"/v1/jobs/{job_id}")
    client.get("/v1/jobs/unknown")
    client.get(f"/v1/jobs/{job_id}", headers={"X-Jobstream-Namespace": "acme"})  # another namespace's: 404
    client.get("/v1/jobs", headers={"Authorization": ""})  # 401: no namespace known
    metrics = client.get("/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    text = metrics.text
    requests = {(s.labels["route"], s.labels["status"], s.labels["namespace"]): s.value
                for family in text_string_to_metric_families(text) if family.name == "jobstream_api_requests"
                for s in family.samples if s.name.endswith("_total") and s.labels["method"] == "GET"}
    assert requests[("/v1/jobs/{job_id}", "200", "default")] == 1.0, requests
    assert requests[("/v1/jobs/{job_id}", "404", "default")] == 1.0
    assert requests[("/v1/jobs/{job_id}", "404", "acme")] == 1.0
    assert requests[("/v1/jobs", "401", "")] == 1.0
    assert 'jobstream_api_request_duration_seconds_count{method="GET",route="/healthz"} 1.0' in text


def test_a_read_model_whose_tables_are_not_there_yet_is_503_and_not_ready(
        test_settings: Settings, database_url: str, unique_name: str) -> None:
    # Given an API started before its projector created the read model's tables
    empty = f"{unique_name}_empty"
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(empty)))
    try:
        app = create_app(test_settings, schema=empty, options=ApiOptions(listener_start_s=0.1))
        with TestClient(app, headers=auth_headers(test_settings)) as client:
            # Then it is not ready, and a read is a 503 saying why, not a 500
            ready = assert_problem(client.get("/readyz"), 503)
            assert "job_events" in ready["checks"]["postgres"]
            problem = assert_problem(client.get(f"/v1/jobs/{new_job_id()}"), 503)
            assert "not set up yet" in problem["detail"]
    finally:
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(empty)))


def test_a_database_that_does_not_answer_is_503_not_500(make_client: Client, test_settings: Settings) -> None:
    nowhere = test_settings.with_(external_database_url="postgresql://nobody@127.0.0.1:1/none?connect_timeout=1")
    client = make_client(nowhere, listener_start_s=0.1, pool_timeout_s=0.5, wait_s=1.0)

    ready = assert_problem(client.get("/readyz"), 503)
    assert ready["checks"]["postgres"].startswith("failed") and ready["checks"]["kafka"] == "ok"
    assert_problem(client.get(f"/v1/jobs/{new_job_id()}"), 503)
    assert client.get("/healthz").status_code == 200
    # once durably sent, a submit is accepted (202, with its command id) even though it cannot be
    # read back; with an idempotency key too: the state processor refuses a second job of that key
    accepted = client.post("/v1/jobs", json=SHELL_JOB)
    assert accepted.status_code == 202 and accepted.json()["command_id"]
    keyed = client.post("/v1/jobs", json={**SHELL_JOB, "idempotency_key": "k"})
    assert keyed.status_code == 202 and keyed.json()["command_id"]


def _end_offsets(settings: Settings, topic: str) -> int:
    """Messages on the topic (retried while a new topic's leaders are elected: a busy broker takes a while)."""
    return sum(end_offsets(settings, topic).values())


# ---------------------------------------------------------------- POST /v1/jobs:batch, PATCH, bulk cancel
def test_a_batch_goes_out_whole_with_refs_resolved_to_job_ids(
        client: TestClient, commands: Callable[[], Command], db: psycopg.Connection[Any]) -> None:
    upstream = new_job_id()
    insert_job(db, upstream, status="completed")
    jobs: list[dict[str, Any]] = [{**SHELL_JOB, "ref": "load", "depends_on": [{"ref": "extract"}, upstream]},
            {**SHELL_JOB, "ref": "extract"}, SHELL_JOB]

    response = client.post("/v1/jobs:batch", json={"jobs": jobs})

    assert response.status_code == 202, response.text
    answer = response.json()
    refs = answer["refs"]
    assert [j["ref"] for j in answer["jobs"]] == ["load", "extract", None] and set(refs) == {"load", "extract"}
    sent = {c.envelope.job_id: c for c in (commands(), commands(), commands())}
    assert set(sent) == {j["job_id"] for j in answer["jobs"]}
    load = sent[refs["load"]]
    assert isinstance(load, SubmitJob)
    assert [d.job_id for d in load.spec.depends_on] == [refs["extract"], upstream]
    assert len({c.envelope.correlation_id for c in sent.values()}) == 1  # one batch


def test_a_batch_naming_a_job_that_does_not_exist_is_422_and_sends_nothing(
        client: TestClient, test_settings: Settings, topics: Topics) -> None:
    before = end_offsets(test_settings, topics.commands)  # retries while a new topic elects leaders
    jobs = [SHELL_JOB, {**SHELL_JOB, "depends_on": [{"job_id": "no-such-job", "condition": "completed"}]}]
    body = assert_problem(client.post("/v1/jobs:batch", json={"jobs": jobs}), 422)
    assert [e["field"] for e in body["errors"]] == ["jobs[1].depends_on[0].job_id"]
    assert end_offsets(test_settings, topics.commands) == before


def test_patch_answers_with_the_job_once_the_update_is_visible(
        client: TestClient, commands: Callable[[], Command], db: psycopg.Connection[Any], schema: str,
        background: Callable[..., Future[Any]]) -> None:
    job_id = new_job_id()
    insert_job(db, job_id, seq=2, status="queued", priority=5)
    pending = background(client.patch, f"/v1/jobs/{job_id}", json={"priority": 2})

    command = commands()
    assert isinstance(command, UpdateJob) and command.patch.priority == 2 and command.patch.queue is None
    assert not pending.done()

    def updated() -> None:
        db.execute("UPDATE jobs SET seq = 3, priority = 2 WHERE job_id = %s", (job_id,))
        insert_event(db, job_id, 3, "JobUpdated", {"patch": {"priority": 2}}, causation_id=command.envelope.command_id)

    commit_and_notify(db, schema, job_id, updated)
    response = pending.result(timeout=10)
    assert response.status_code == 200, response.text
    assert response.json()["priority"] == 2


def test_patch_rejected_by_the_state_processor_is_409_with_its_reason(
        client: TestClient, commands: Callable[[], Command], db: psycopg.Connection[Any], schema: str,
        background: Callable[..., Future[Any]]) -> None:
    job_id = new_job_id()
    insert_job(db, job_id, seq=4, status="running")
    pending = background(client.patch, f"/v1/jobs/{job_id}", json={"queue": "other"})
    command_id = commands().envelope.command_id

    commit_and_notify(db, schema, job_id, lambda: insert_event(db, job_id, 5, "CommandRejected", {
        "command_id": command_id, "command_type": "UpdateJob", "reason": "a job that is running cannot be changed"},
        causation_id=command_id))

    body = assert_problem(pending.result(timeout=10), 409)
    assert body["detail"] == "a job that is running cannot be changed" and body["job_id"] == job_id


def test_bulk_cancel_sends_one_cancel_per_matching_unfinished_job_with_repeatable_ids(
        client: TestClient, commands: Callable[[], Command], db: psycopg.Connection[Any]) -> None:
    ids = [new_job_id(now_ms=1_700_000_000_000 + i) for i in range(5)]
    insert_job(db, ids[0], labels={"team": "a"}, name="nightly-1")
    insert_job(db, ids[1], labels={"team": "a", "x": "y"}, name="nightly-2", status="scheduled")
    insert_job(db, ids[2], labels={"team": "a"}, name="nightly-3", status="completed")  # finished
    insert_job(db, ids[3], labels={"team": "b"}, name="nightly-4")  # other label
    insert_job(db, ids[4], labels={"team": "a"}, name="hourly-1")  # other name
    body = {"label": "team=a", "name_prefix": "nightly-", "reason": "sweep"}

    response = client.post("/v1/jobs:cancel", json=body, headers={"Idempotency-Key": "sweep-1"})

    assert response.status_code == 202, response.text
    assert response.json() == {"matched": 2, "cancelled_requested": 2, "request_id": "sweep-1"}
    first = sorted((c.envelope.job_id, c.envelope.command_id) for c in (commands(), commands()))
    assert [job_id for job_id, _ in first] == ids[:2]
    # A retry of the same request sends the same command ids, which the state processor ignores
    assert client.post("/v1/jobs:cancel", json=body, headers={"Idempotency-Key": "sweep-1"}).status_code == 202
    assert sorted((c.envelope.job_id, c.envelope.command_id) for c in (commands(), commands())) == first
    assert client.post("/v1/jobs:cancel", json={"queue": "nothing-here"}).json()["matched"] == 0

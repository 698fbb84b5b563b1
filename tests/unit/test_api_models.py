"""The API's request models map onto the Avro contract, and its errors are RFC 9457 problems."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from jobstream.api import ApiOptions, create_app
from jobstream.api.bulk import BulkCommands, indexed_field
from jobstream.api.commands import JobCommands
from jobstream.api.context import ApiContext
from jobstream.api.middleware import ApiMetrics
from jobstream.api.models import CloneRequest, JobPatchIn, JobSubmission, spec_from_json
from jobstream.api.paging import decode_cursor, encode_cursor
from jobstream.api.problems import ApiProblem, loc_to_paths, validation_errors
from jobstream.config import Settings
from jobstream.schemas import (
    CommandEnvelope,
    Dependency,
    HttpTask,
    JobPatch,
    JobSpec,
    PythonTask,
    Requirements,
    RetryPolicy,
    ScheduledRun,
    ShellTask,
    SubmitJob,
    make_codec,
)
from jobstream.schemas.common import DependencyCondition, Jitter

SHELL = {"type": "shell", "argv": ["echo", "hi"]}


def submission(**fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"name": "echo", "task": SHELL}
    body.update(fields)
    return body


def errors_of(body: dict[str, Any]) -> list[dict[str, str]]:
    with pytest.raises(ValidationError) as caught:
        JobSubmission.model_validate(body)
    return validation_errors(caught.value.errors())


def fields_of(body: dict[str, Any]) -> set[str]:
    return {error["field"] for error in errors_of(body)}


# ---------------------------------------------------------------- mapping to the Avro JobSpec
def test_minimal_shell_job_maps_with_the_contract_defaults() -> None:
    spec = JobSubmission.model_validate(submission()).to_spec()
    assert spec == JobSpec(name="echo", queue="default", priority=5, task=ShellTask(argv=["echo", "hi"]))


def test_every_field_maps_onto_the_spec() -> None:
    body = submission(
        queue="batch", priority=1, timeout_s=30, labels={"team": "a"}, idempotency_key="k-1",
        task={"type": "shell", "argv": ["ls -l"], "env": {"A": "1"}, "cwd": "/tmp", "shell": True},
        retry={"max_attempts": 3, "initial_backoff_s": 2, "max_backoff_s": 60, "multiplier": 3,
               "jitter": "none", "retry_on_exit_codes": [1, 2], "retry_on_timeout": False},
        requirements={"cpu": 0.5, "memory_mb": 256, "labels": {"gpu": "no"}},
    )
    spec = JobSubmission.model_validate(body).to_spec()
    assert spec == JobSpec(
        name="echo", queue="batch", priority=1, timeout_s=30.0, labels={"team": "a"}, idempotency_key="k-1",
        task=ShellTask(argv=["ls -l"], env={"A": "1"}, cwd="/tmp", shell=True),
        retry=RetryPolicy(max_attempts=3, initial_backoff_s=2.0, max_backoff_s=60.0, multiplier=3.0,
                          jitter=Jitter.NONE, retry_on_exit_codes=[1, 2], retry_on_timeout=False),
        requirements=Requirements(cpu=0.5, memory_mb=256, labels={"gpu": "no"}),
    )


def test_http_task_maps_to_the_http_record() -> None:
    task = {"type": "http", "method": "POST", "url": "https://example.org/hook", "headers": {"X": "y"},
            "body": "{}", "timeout_s": 5, "expected_status": [200, 204]}
    spec = JobSubmission.model_validate(submission(task=task)).to_spec()
    assert spec.task == HttpTask(method="POST", url="https://example.org/hook", headers={"X": "y"}, body="{}",
                                 timeout_s=5.0, expected_status=[200, 204])


def test_python_task_arguments_become_json_strings() -> None:
    task = {"type": "python", "entrypoint": "pkg.mod:run", "args": [1, "a"], "kwargs": {"n": {"deep": True}}}
    spec = JobSubmission.model_validate(submission(task=task)).to_spec()
    assert spec.task == PythonTask(entrypoint="pkg.mod:run", args_json='[1, "a"]', kwargs_json='{"n": {"deep": true}}')
    assert isinstance(spec.task, PythonTask) and json.loads(spec.task.kwargs_json) == {"n": {"deep": True}}


@pytest.mark.parametrize("task", [
    SHELL,
    {"type": "http", "url": "http://x/"},
    {"type": "python", "entrypoint": "a.b:c", "kwargs": {"k": [1.5, None]}},
])
def test_mapped_specs_encode_and_decode_with_the_avro_codec(task: dict[str, Any]) -> None:
    from datetime import UTC, datetime

    spec = JobSubmission.model_validate(submission(task=task, retry={"max_attempts": 2})).to_spec()
    envelope = CommandEnvelope(command_id="c", job_id="j", type="SubmitJob", issued_at=datetime.now(UTC), actor="api")
    codec = make_codec(None)
    decoded = codec.decode(codec.encode(SubmitJob(envelope=envelope, spec=spec)), topic="t", partition=0, offset=0)
    assert isinstance(decoded, SubmitJob) and decoded.spec == spec


# ---------------------------------------------------------------- validation names the fields
@pytest.mark.parametrize(("body", "field"), [
    (submission(priority=0), "priority"),
    (submission(priority=11), "priority"),
    (submission(priority=10**30), "priority"),
    (submission(priority="5"), "priority"),  # strict: no string coercion
    (submission(priority=2.5), "priority"),
    (submission(task={"type": "shell", "argv": []}), "task.argv"),
    (submission(task={"type": "shell", "argv": [1]}), "task.argv"),
    (submission(task={"type": "shell", "argv": "echo hi"}), "task.argv"),
    (submission(task={"type": "shell", "argv": ["a"], "shell": "yes"}), "task.shell"),
    (submission(task={"argv": ["a"]}), "task"),
    (submission(task={"type": "ftp"}), "task"),
    (submission(task={"type": "http"}), "task.url"),
    (submission(task={"type": "http", "url": "http://x", "expected_status": [99]}), "task.expected_status"),
    (submission(task={"type": "python", "entrypoint": "a:b", "args": [float("nan")]}), "task.args"),
    (submission(timeout_s=0), "timeout_s"),
    (submission(timeout_s=float("inf")), "timeout_s"),
    (submission(labels={"a": 1}), "labels.a"),
    (submission(labels=["a"]), "labels"),
    (submission(name="a\x00b"), "name"),
    (submission(retry={"jitter": "some"}), "retry.jitter"),
    (submission(retry={"max_attempts": 0}), "retry.max_attempts"),
    (submission(requirements={"memory_mb": -1}), "requirements.memory_mb"),
    (submission(schedule={"cron": "61 * * * *"}), "schedule.cron"),
    (submission(schedule={"every": "5 fortnights"}), "schedule.every"),
    (submission(schedule={"every": 0.5}), "schedule.every"),
    (submission(schedule={"every": "5m", "timezone": "Mars/Olympus"}), "schedule.timezone"),
    (submission(schedule={"every": "5m", "cron": "* * * * *"}), "schedule"),
    (submission(schedule={"every": "5m", "misfire": "sometimes"}), "schedule.misfire"),
    (submission(schedule={"at": "2026-01-01T00:00:00"}), "schedule.at"),  # a time without its offset
    ({"task": SHELL}, "name"),
])
def test_invalid_submissions_name_the_offending_field(body: dict[str, Any], field: str) -> None:
    assert field in fields_of(body)


def test_error_pointers_keep_list_indexes() -> None:
    [error] = errors_of(submission(task={"type": "shell", "argv": ["ok", 2]}))
    assert error == {"field": "task.argv", "pointer": "#/task/argv/1", "detail": "Input should be a valid string"}


def test_locations_drop_the_request_part_and_the_union_tag() -> None:
    assert loc_to_paths(("body", "task", "http", "url")) == ("task.url", "#/task/url")
    assert loc_to_paths(("query", "status", 0)) == ("status", "#/status/0")
    assert loc_to_paths(("body",)) == ("body", "#/")


def test_cursors_round_trip_and_foreign_ones_name_the_field() -> None:
    assert decode_cursor(encode_cursor("0190-abc")) == "0190-abc"
    assert decode_cursor(None) is None
    with pytest.raises(ApiProblem) as caught:
        decode_cursor("not-a-cursor")
    assert caught.value.status == 422 and caught.value.errors and caught.value.errors[0]["field"] == "cursor"


# ---------------------------------------------------------------- problem+json over HTTP
@pytest.fixture
def client() -> TestClient:
    """An app whose lifespan does not run: only what fails before any I/O can be asked."""
    app = create_app(Settings.from_env(), options=ApiOptions(max_body_bytes=2048), no_auth=True)
    options = ApiOptions()
    commands = JobCommands(None, None, None, options)  # type: ignore[arg-type]
    bulk = BulkCommands(None, None)  # type: ignore[arg-type]
    app.state.context = ApiContext(store=None, notifier=None, publisher=None,  # type: ignore[arg-type]
                                   commands=commands, metrics=ApiMetrics(), options=options, bulk=bulk)
    return TestClient(app)


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["title"] and body["type"] and "detail" in body
    return body


def test_wrong_types_are_422_with_an_errors_list(client: TestClient) -> None:
    body = assert_problem(client.post("/v1/jobs", json=submission(priority="high")), 422)
    assert body["type"] == "urn:jobstream:problem:validation"
    assert body["instance"] == "/v1/jobs"
    assert [e["field"] for e in body["errors"]] == ["priority"]


def test_spec_rules_from_core_validation_are_422_naming_the_field(client: TestClient) -> None:
    body = assert_problem(client.post("/v1/jobs", json=submission(queue="no spaces")), 422)
    assert [e["field"] for e in body["errors"]] == ["queue"]
    body = assert_problem(client.post("/v1/jobs", json=submission(
        task={"type": "python", "entrypoint": "not an entrypoint"})), 422)
    assert [e["field"] for e in body["errors"]] == ["task.entrypoint"]


@pytest.mark.parametrize("raw", [b"{", b"{'name': 1}", b"\xff\xfe", b"[1,"])
def test_malformed_json_is_400(client: TestClient, raw: bytes) -> None:
    assert_problem(client.post("/v1/jobs", content=raw, headers={"content-type": "application/json"}), 400)


@pytest.mark.parametrize("raw", [b"[]", b"null", b'"job"', b"42"])
def test_json_that_is_not_an_object_is_422(client: TestClient, raw: bytes) -> None:
    assert_problem(client.post("/v1/jobs", content=raw, headers={"content-type": "application/json"}), 422)


def test_too_large_bodies_are_413(client: TestClient) -> None:
    body = assert_problem(client.post("/v1/jobs", json=submission(name="x" * 5000)), 413)
    assert body["instance"] == "/v1/jobs"


def test_unknown_routes_and_methods_are_problems(client: TestClient) -> None:
    assert_problem(client.get("/v2/nothing"), 404)
    assert_problem(client.delete("/v1/jobs"), 405)


def test_openapi_documents_the_v1_routes(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/v1/jobs", "/v1/jobs/{job_id}", "/v1/jobs/{job_id}/cancel", "/v1/jobs/{job_id}/events",
            "/v1/executions", "/v1/workers/{worker_id}"} <= set(paths)


@pytest.mark.parametrize("schedule, expected", [
    ({"cron": "*/5 * * * *", "timezone": "Europe/Paris"}, dict(cron="*/5 * * * *", timezone="Europe/Paris")),
    ({"every": "5m"}, dict(every_s=300.0)),
    ({"every": "every 2 hours"}, dict(every_s=7200.0)),
    ({"every": "PT1H30M", "max_runs": 3, "concurrency": "forbid"}, dict(every_s=5400.0, max_runs=3)),
])
def test_recurring_schedules_are_accepted(schedule: dict[str, Any], expected: dict[str, Any]) -> None:
    from jobstream.api.schedule_in import ScheduleIn

    converted = ScheduleIn.model_validate(schedule).to_avro()
    assert {name: getattr(converted, name) for name in expected} == expected


# ---------------------------------------------------------------- dependencies, patches, clones
def test_depends_on_takes_bare_ids_and_conditions() -> None:
    spec = JobSubmission.model_validate(submission(depends_on=["up-1", {"job_id": "up-2", "condition": "completed"}]
                                                   )).to_spec()
    assert spec.depends_on == [Dependency(job_id="up-1"),
                               Dependency(job_id="up-2", condition=DependencyCondition.COMPLETED)]
    assert fields_of(submission(depends_on=[{"ref": "a"}])) == {"depends_on.job_id", "depends_on.ref"}
    assert fields_of(submission(depends_on=[{"job_id": "x", "condition": "maybe"}])) == {"depends_on.condition"}


def test_a_patch_maps_onto_the_contract_and_checks_only_what_it_sets() -> None:
    patch = JobPatchIn.model_validate({"priority": 2, "env": {"A": "1"}, "retry": {"max_attempts": 3}})
    assert patch.problems() == []
    assert patch.to_patch() == JobPatch(priority=2, env={"A": "1"}, retry=RetryPolicy(max_attempts=3))
    assert JobPatchIn.model_validate({"queue": "no spaces"}).problems()[0][0] == "queue"
    assert JobPatchIn.model_validate({}).problems() == [("body", "name at least one field to change")]
    with pytest.raises(ValidationError):
        JobPatchIn.model_validate({"name": "renamed"})  # a patch does not rename


def test_a_clone_keeps_the_spec_but_the_idempotency_key_and_applies_overrides() -> None:
    spec = JobSubmission.model_validate(submission(labels={"a": "1"}, idempotency_key="k", priority=7)).to_spec()
    clone = CloneRequest.model_validate({"name": "copy", "priority": 1, "labels": {"b": "2"}}).apply(spec)
    assert (clone.name, clone.priority, clone.labels, clone.idempotency_key) == ("copy", 1, {"b": "2"}, None)
    assert clone.task == spec.task and CloneRequest().apply(spec).labels == {"a": "1"}


def test_a_projected_spec_reads_back_as_the_same_spec() -> None:
    from jobstream.projections.payload import record_json

    spec = JobSubmission.model_validate(submission(
        task={"type": "python", "entrypoint": "m.n:f", "args": [1]}, retry={"max_attempts": 2},
        schedule={"at": "2030-01-01T01:00:00+01:00"}, depends_on=["u"], requirements={"cpu": 1})).to_spec()
    assert spec_from_json(json.loads(json.dumps(record_json(spec)))) == spec
    run = replace(spec, run_of=ScheduledRun(parent_job_id="p", run_number=2, due_at=datetime(2030, 1, 1, tzinfo=UTC)))
    assert spec_from_json(json.loads(json.dumps(record_json(run)))) == run
    assert CloneRequest().apply(run).run_of is None
    with pytest.raises(ValueError):
        spec_from_json({"name": "no task"})


def test_batch_errors_name_the_job_index_and_path() -> None:
    assert indexed_field("jobs[3]", ("task", "shell", "argv", 0)) == "jobs[3].task.argv[0]"
    assert indexed_field("jobs[0]", ("depends_on", 2, "ref")) == "jobs[0].depends_on[2].ref"


def batch_job(ref: str, *after: str, **fields: Any) -> dict[str, Any]:
    return submission(ref=ref, name=ref, depends_on=[{"ref": r} for r in after], **fields)


def test_a_batch_with_a_cycle_is_422_naming_it(client: TestClient) -> None:
    jobs = [batch_job("a", "c"), batch_job("b", "a"), batch_job("c", "b")]
    body = assert_problem(client.post("/v1/jobs:batch", json={"jobs": jobs}), 422)
    assert body["errors"] == [{"field": "jobs[0].depends_on[0].ref", "pointer": "#/jobs/0/depends_on/0/ref",
                               "detail": "dependency cycle: a -> c -> b -> a (each depends on the next)"}]


def test_a_batch_names_invalid_jobs_and_unknown_refs_by_index(client: TestClient) -> None:
    jobs = [batch_job("a"), batch_job("b", priority="high"), batch_job("c", queue="no spaces"),
            {**batch_job("d"), "task": {"type": "shell", "argv": "echo"}}]
    body = assert_problem(client.post("/v1/jobs:batch", json={"jobs": jobs}), 422)
    assert [e["field"] for e in body["errors"]] == ["jobs[1].priority", "jobs[2].queue", "jobs[3].task.argv"]
    body = assert_problem(client.post("/v1/jobs:batch", json={"jobs": [batch_job("a", "zz")]}), 422)
    assert [e["field"] for e in body["errors"]] == ["jobs[0].depends_on[0].ref"]


def test_a_batch_is_bounded(client: TestClient) -> None:
    assert assert_problem(client.post("/v1/jobs:batch", json={"jobs": []}), 422)["errors"][0]["field"] == "jobs"
    too_many: dict[str, Any] = {"jobs": [{}] * 10_001}
    assert assert_problem(client.post("/v1/jobs:batch", json=too_many), 422)["errors"][0]["field"] == "jobs"


def test_patch_and_bulk_cancel_are_checked_before_any_io(client: TestClient) -> None:
    body = assert_problem(client.patch("/v1/jobs/j1", json={"queue": "no spaces"}), 422)
    assert [e["field"] for e in body["errors"]] == ["queue"]
    assert_problem(client.patch("/v1/jobs/j1", json={}), 422)
    assert_problem(client.patch("/v1/jobs/j1", json={"priority": 11}), 422)
    assert_problem(client.post("/v1/jobs:cancel", json={}), 422)
    assert_problem(client.post("/v1/jobs:cancel", json={"label": "no-equals-sign"}), 422)
    assert_problem(client.post("/v1/jobs:cancel", json={"status": "completed"}), 422)


@pytest.mark.parametrize(("path", "body", "field"), [
    ("/v1/jobs:bulk-cancel", {"dry_run": True}, "filters"),
    ("/v1/jobs:bulk-cancel", {"queue": "q"}, "expected_count"),
    ("/v1/jobs:bulk-retry", {"status": ["finished"], "dry_run": True}, "status"),
    ("/v1/jobs:bulk-retry", {"label": ["no-equals-sign"], "dry_run": True}, "label"),
    ("/v1/dlq:redrive", {"priority": 11, "dry_run": True}, "priority"),
    ("/v1/dlq:redrive", {"submitted_since": "2026-01-01T00:00:00", "dry_run": True}, "submitted_since"),
    ("/v1/dlq:redrive", {"queue": "q", "dry_run": True, "queues": "typo"}, "queues"),
    ("/v1/jobs:bulk-cancel", {"queue": "q", "expected_count": -1}, "expected_count"),
])
def test_a_bulk_action_names_the_field_it_cannot_take_before_any_io(client: TestClient, path: str,
                                                                    body: dict[str, Any], field: str) -> None:
    errors = assert_problem(client.post(path, json=body), 422)["errors"]
    assert [e["field"] for e in errors] == [field], errors


def test_an_unknown_query_parameter_is_400_naming_it(client: TestClient) -> None:
    body = assert_problem(client.get("/v1/jobs", params={"labels": "team=ml", "statuss": "queued"}), 400)
    assert [e["field"] for e in body["errors"]] == ["labels", "statuss"]
    assert "unknown query parameter(s): labels, statuss" in body["detail"] and "status" in body["detail"]
    body = assert_problem(client.post("/v1/jobs?dry_run=1", json=submission()), 400)
    assert [e["field"] for e in body["errors"]] == ["dry_run"]


def test_a_single_valued_query_parameter_given_twice_is_422_naming_it(client: TestClient) -> None:
    # Only the last value would count: ?actor=a&actor=b would answer for b alone
    body = assert_problem(client.get("/v1/audit", params={"actor": ["a", "b"]}), 422)
    assert [e["field"] for e in body["errors"]] == ["actor"]
    # A list parameter (status) may repeat; the others are named
    repeated = {"status": ["queued", "running"], "queue": ["a", "b"], "limit": ["2", "3"]}
    body = assert_problem(client.get("/v1/jobs", params=repeated), 422)
    assert [e["field"] for e in body["errors"]] == ["limit", "queue"]


def test_env_from_travels_as_references_only_and_a_bad_reference_is_named() -> None:
    from pydantic import ValidationError

    from jobstream.api.models import ShellTaskIn
    from jobstream.core.env_from import split_env

    task = ShellTaskIn.model_validate({"type": "shell", "argv": ["env"], "env": {"A": "1"},
                                       "env_from": {"DB_PASSWORD": {"secret": "db-password"}}}).to_avro()
    assert split_env(task.env) == ({"A": "1"}, {"DB_PASSWORD": "db-password"})
    cases: list[tuple[dict[str, Any], tuple[str, ...]]] = [
        ({"env_from": {"DB_PASSWORD": {"secret": "no/slash"}}}, ("env_from", "DB_PASSWORD", "secret")),
        ({"env_from": {"1BAD": {"secret": "x"}}}, ("env_from", "1BAD", "[key]")),
        ({"env": {"secret:X": "y"}}, ("env",))]
    for bad, where in cases:
        with pytest.raises(ValidationError) as error:
            ShellTaskIn.model_validate({"type": "shell", "argv": ["env"], **bad})
        assert tuple(error.value.errors()[0]["loc"]) == where


def test_python_and_http_tasks_carry_references_too_and_an_inline_task_no_environment() -> None:
    from pydantic import ValidationError

    from jobstream.api.models import HttpTaskIn, PythonTaskIn
    from jobstream.core.env_from import split_env
    from jobstream.core.validation import validate_spec
    from jobstream.schemas import JobSpec

    python = PythonTaskIn.model_validate({"type": "python", "entrypoint": "m:f", "env": {"A": "1"},
                                          "env_from": {"TOKEN": {"secret": "api-token"}}}).to_avro()
    assert split_env(python.env) == ({"A": "1"}, {"TOKEN": "api-token"})
    http = HttpTaskIn.model_validate({"type": "http", "url": "https://x/", "headers": {"X-A": "1"},
                                      "headers_from": {"Authorization": {"secret": "api-token"}}}).to_avro()
    assert split_env(http.headers) == ({"X-A": "1"}, {"Authorization": "api-token"})
    with pytest.raises(ValidationError) as error:
        HttpTaskIn.model_validate({"type": "http", "url": "https://x/", "headers": {"secret:Authorization": "v"}})
    assert tuple(error.value.errors()[0]["loc"]) == ("headers",)
    with pytest.raises(ValidationError) as error:
        HttpTaskIn.model_validate({"type": "http", "url": "https://x/", "headers_from": {"Bad Name": {"secret": "x"}}})
    assert tuple(error.value.errors()[0]["loc"]) == ("headers_from", "Bad Name", "[key]")
    inline = PythonTaskIn.model_validate({"type": "python", "entrypoint": "m:f", "isolation": "inline",
                                          "env_from": {"TOKEN": {"secret": "api-token"}}}).to_avro()
    assert [field for field, _ in validate_spec(JobSpec(name="n", task=inline))] == ["task.isolation"]

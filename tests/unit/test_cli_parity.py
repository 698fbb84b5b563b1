"""The CLI at parity with the API: submit's options as the request body, the operators' commands
and their routes, `logs JOB_ID`, and tables that never cut an id."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import typer
import yaml

from jobstream.submit_body import (
    JobOptions,
    RetryOptions,
    ScheduleOptions,
    TaskOptions,
    json_or_text,
    requirements_body,
    schedule_body,
    submission_body,
)
from jobstream.tables import JOB_COLUMNS, print_job, print_rows
from tests.unit.test_api_client import JOB, recorder, run

JOB_ID = "0197c1a2-3b4c-7d5e-8f90-a1b2c3d4e5f6.r12"


def submitted(*args: str) -> dict[str, Any]:
    """The body `jobstream submit ARGS` sends."""
    seen, handle = recorder(201, JOB)
    result = run(handle, "submit", *args)
    assert result.exit_code == 0, result.output
    [request] = seen
    assert (request.method, request.url.path) == ("POST", "/v1/jobs")
    return dict(json.loads(request.content))


def test_a_python_task_with_arguments_inline_and_its_function_as_the_default_name() -> None:
    body = submitted("--python", "textstats.tasks:count_words", "--arg", "the cat", "--arg", "5", "--arg", "[1]",
                     "--kwarg", "top=2", "--kwarg", "mode=fast", "--inline")
    assert body["name"] == "count_words"
    assert body["task"] == {"type": "python", "entrypoint": "textstats.tasks:count_words",
                            "args": ["the cat", 5, [1]], "kwargs": {"top": 2, "mode": "fast"}, "isolation": "inline"}


def test_an_http_task() -> None:
    body = submitted("--http", "https://example.com/ping", "--method", "post", "--header", "x-a=1",
                     "--data", '{"a": 1}', "--expect-status", "201", "--expect-status", "202")
    assert body["name"] == "example.com"
    assert body["task"] == {"type": "http", "url": "https://example.com/ping", "method": "POST",
                            "headers": {"x-a": "1"}, "body": '{"a": 1}', "expected_status": [201, 202]}


def test_schedule_dependencies_retry_and_requirements() -> None:
    body = submitted("--cron", "0 3 * * *", "--tz", "Europe/Paris", "--after", "up-1", "--after-completed", "up-2",
                     "--upstreams-later", "--retry", "3", "--backoff", "2", "--max-backoff", "60",
                     "--requirement", "cpu=1.5", "--requirement", "memory_mb=512", "--requirement", "gpu=a100",
                     "--label", "team=ml", "--", "make", "report")
    assert body == {
        "name": "make", "queue": "default", "priority": 5, "labels": {"team": "ml"},
        "task": {"type": "shell", "argv": ["make", "report"], "env": {}, "shell": False},
        "schedule": {"cron": "0 3 * * *", "timezone": "Europe/Paris"},
        "depends_on": [{"job_id": "up-1", "condition": "succeeded"}, {"job_id": "up-2", "condition": "completed"}],
        "upstreams_may_come_later": True,
        "retry": {"max_attempts": 3, "initial_backoff_s": 2.0, "max_backoff_s": 60.0},
        "requirements": {"cpu": 1.5, "memory_mb": 512, "labels": {"gpu": "a100"}},
    }
    assert submitted("--every", "5m", "--", "true")["schedule"] == {"every": "5m"}
    assert submitted("--at", "2030-01-01T00:00:00Z", "--", "true")["schedule"] == {"at": "2030-01-01T00:00:00Z"}


def test_options_left_out_are_left_to_the_api_s_defaults() -> None:
    assert set(submitted("--", "true")) == {"name", "queue", "priority", "labels", "task"}


@pytest.mark.parametrize(("args", "named"), [
    (["--python", "m:f", "--", "echo"], "task"),
    ([], "task"),
    (["--http", "http://x", "--arg", "1"], "--arg"),
    (["--http", "http://x", "--env", "A=1"], "--env"),
    (["--python", "m:f", "--secret-header", "A=b"], "--secret-header"),
    (["--method", "POST", "--", "true"], "--method"),
    (["--cron", "* * * * *", "--every", "5m", "--", "true"], "--cron"),
    (["--tz", "UTC", "--every", "5m", "--", "true"], "--tz"),
    (["--backoff", "2", "--", "true"], "--backoff"),
    (["--requirement", "cpu=many", "--", "true"], "--requirement"),
    (["--kwarg", "novalue", "--python", "m:f"], "--kwarg"),
])
def test_options_that_do_not_fit_are_a_usage_error_naming_the_option(args: list[str], named: str) -> None:
    seen, handle = recorder(201, JOB)
    result = run(handle, "submit", *args)
    assert result.exit_code == 2 and not seen
    assert named in result.output


def test_the_pure_mapping_pieces() -> None:
    assert json_or_text("5") == 5 and json_or_text("hello") == "hello" and json_or_text('"5"') == "5"
    assert requirements_body([]) is None and requirements_body(["memory_mb=64"]) == {"memory_mb": 64}
    assert schedule_body(ScheduleOptions()) is None
    with pytest.raises(typer.BadParameter, match="must be an integer"):
        requirements_body(["memory_mb=1.5"])
    body = submission_body(JobOptions(name="n", timeout=9), TaskOptions(argv=["ls"], cwd="/tmp", shell=True),
                           retry=RetryOptions(attempts=2))
    assert body["timeout_s"] == 9 and body["retry"] == {"max_attempts": 2}
    assert body["task"] == {"type": "shell", "argv": ["ls"], "env": {}, "shell": True, "cwd": "/tmp"}


def test_operators_commands_hit_their_routes() -> None:
    seen, handle = recorder(200, {"items": [], "next_cursor": None, "worker_id": "w-1", "status": "active", **JOB})
    for args in (["workers", "ls", "--status", "active", "--label", "gpu=a100"], ["workers", "drain", "w-1",
                 "--reason", "deploy"], ["dlq", "ls", "--limit", "5"], ["dlq", "redrive", "j-1"], ["retry", "j-2"]):
        result = run(handle, *args)
        assert result.exit_code == 0, (args, result.output)
    assert [(r.method, r.url.path, dict(r.url.params)) for r in seen] == [
        ("GET", "/v1/workers", {"status": "active", "label": "gpu=a100", "limit": "100"}),
        ("POST", "/v1/workers/w-1/drain", {"reason": "deploy"}),
        ("GET", "/v1/dlq", {"limit": "5"}),
        ("POST", "/v1/dlq/j-1/redrive", {}),
        ("POST", "/v1/jobs/j-2/retry", {}),
    ]


def test_bulk_takes_the_list_filters_and_hits_the_api_s_bulk_route_of_each_action() -> None:
    from jobstream.api.routes_bulk import BULK_PATHS as API_PATHS
    from jobstream.bulk_client import BULK_PATHS

    assert BULK_PATHS == API_PATHS
    seen, handle = recorder(200, {"dry_run": True, "matched": 2, "sample": ["j-1", "j-2"]})
    result = run(handle, "bulk", "cancel", "--queue", "q", "--status", "queued", "--status", "paused", "--label",
                 "team=ml", "--name-prefix", "nightly", "--priority", "3", "--since", "2026-03-01T00:00:00Z",
                 "--until", "2026-03-02T00:00:00Z", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "would act on 2 jobs" in result.stdout and "--expected-count 2" in result.stdout and "j-2" in result.stdout
    for action in ("retry", "redrive"):
        assert run(handle, "bulk", action, "--name-prefix", "n", "--expected-count", "0").exit_code == 0
    assert [(r.url.path, json.loads(r.content)) for r in seen] == [
        ("/v1/jobs:bulk-cancel", {"status": ["queued", "paused"], "queue": "q", "name_prefix": "nightly",
                                  "label": ["team=ml"], "priority": 3, "submitted_since": "2026-03-01T00:00:00Z",
                                  "submitted_until": "2026-03-02T00:00:00Z", "dry_run": True}),
        ("/v1/jobs:bulk-retry", {"name_prefix": "n", "expected_count": 0}),
        ("/v1/dlq:redrive", {"name_prefix": "n", "expected_count": 0}),
    ]


@pytest.mark.parametrize("args", [["--queue", "q"], ["--queue", "q", "--dry-run", "--expected-count", "2"],
                                  ["--label", "novalue", "--dry-run"], ["--queue", "q", "--dry-run", "--what"]])
def test_bulk_without_exactly_one_of_dry_run_and_a_count_is_a_usage_error(args: list[str]) -> None:
    seen, handle = recorder(200, {})
    assert run(handle, "bulk", "cancel", *args).exit_code == 2 and not seen


def test_audit_passes_its_filters_and_prints_a_table_of_entries(capsys: pytest.CaptureFixture[str]) -> None:
    entry = {"entry_id": "e1", "at": "2026-12-02T10:00:00+00:00", "actor": "jwt:vera", "role": "viewer",
             "namespace": "acme", "address": "127.0.0.1", "action": "submit_job", "method": "POST",
             "route": "/v1/jobs", "target": None, "status": 403, "detail": "role viewer may not POST /v1/jobs"}
    seen, handle = recorder(200, {"items": [entry], "next_cursor": "c2"})
    result = run(handle, "audit", "--actor", "jwt:vera", "--action", "submit_job", "--since",
                 "2026-12-01T00:00:00Z", "--limit", "5", "--cursor", "c1")
    assert result.exit_code == 0, result.output
    assert [(r.method, r.url.path, dict(r.url.params)) for r in seen] == [
        ("GET", "/v1/audit", {"actor": "jwt:vera", "action": "submit_job", "since": "2026-12-01T00:00:00Z",
                              "limit": "5", "cursor": "c1"})]
    for shown in ("jwt:vera", "submit_job", "403", "2026-12-02 10:00:00Z", "c2"):
        assert shown in result.stdout, (shown, result.stdout)
    # a duration is a time that long ago, as the API reads times
    assert run(handle, "audit", "--since", "1h").exit_code == 0
    assert datetime.fromisoformat(seen[-1].url.params["since"]) > datetime.now(UTC) - timedelta(hours=1, minutes=1)


def test_ls_passes_labels_and_parent() -> None:
    seen, handle = recorder(200, {"items": [JOB], "next_cursor": None})
    assert run(handle, "ls", "--label", "team=ml", "--label", "tier=gold", "--parent", "p-1").exit_code == 0
    assert seen[0].url.params.get_list("label") == ["team=ml", "tier=gold"]
    assert seen[0].url.params["parent_job_id"] == "p-1"


def test_logs_of_a_job_read_its_latest_execution_and_an_execution_id_is_read_as_such() -> None:
    asked: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.path)
        if request.url.path == "/v1/jobs/job-1":
            return httpx.Response(200, json={**JOB, "job_id": "job-1", "execution_id": "job-1.3"})
        if request.url.path.startswith("/v1/jobs/"):
            return httpx.Response(404, json={"title": "Not Found", "status": 404})
        return httpx.Response(200, json={"items": [{"seq": 1, "stream": "stdout", "data": "hi\n"}],
                                         "next_after_seq": 1, "complete": True})

    assert run(handle, "logs", "job-1").stdout == "hi\n"
    assert run(handle, "logs", "job-1.2").stdout == "hi\n"
    assert asked == ["/v1/jobs/job-1", "/v1/executions/job-1.3/logs", "/v1/jobs/job-1.2",
                     "/v1/executions/job-1.2/logs"]


def test_logs_of_a_job_that_has_not_run_says_so() -> None:
    _, handle = recorder(200, {**JOB, "execution_id": None, "status": "scheduled"})
    result = run(handle, "logs", "job-1")
    assert result.exit_code == 1 and "job job-1 has not run yet (it is scheduled)" in result.stderr


@pytest.mark.parametrize("width", [60, 80, 120])
def test_tables_never_cut_an_id(width: int, capsys: pytest.CaptureFixture[str],
                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", str(width))
    long = {**JOB, "job_id": JOB_ID, "name": "a rather long name " * 4, "submitted_at": "2026-01-01T12:00:00.5Z"}
    print_rows([long, JOB], JOB_COLUMNS)
    print_job({**long, "execution_id": f"{JOB_ID}.1", "waiting_reason": "no live worker serves queue gpu",
               "next_run_at": "2026-01-02T03:00:00Z", "result_json": '{"words": 5}'},
              [{"execution_id": f"{JOB_ID}.1", "status": "succeeded"}])
    out = capsys.readouterr().out
    assert out.count(JOB_ID) == 4 and f"{JOB_ID}.1" in out  # the list, the job, its execution_id, the executions
    for shown in ("no live worker serves queue gpu", "2026-01-02 03:00:00Z", '{"words": 5}', "2026-01-01 12:00:00Z"):
        assert shown in out
    assert max(len(line) for line in out.splitlines()) <= width


def test_markup_in_values_is_printed_as_is(capsys: pytest.CaptureFixture[str]) -> None:
    print_job({**JOB, "name": "[bold]x[/bold]", "last_error": "KeyError: [red]"})
    out = capsys.readouterr().out
    assert "[bold]x[/bold]" in out and "KeyError: [red]" in out


def test_ls_at_80_columns_breaks_no_short_value_and_says_what_it_left_out(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    rows = [{**JOB, "job_id": "0197a3b4-5c6d-7e8f-9a0b-1c2d3e4f5a6b", "name": "nightly-report", "status": "scheduled",
             "queue": "default", "priority": 10}]
    print_rows(rows, JOB_COLUMNS)
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= 80
    for whole in ("job_id", "name", "status", "queue", "scheduled", "default", "nightly-report"):
        assert any(whole in line.split() for line in lines), (whole, out)  # on one line, not folded
    assert "not shown at this width: priority, submitted_at" in out


@pytest.mark.parametrize("output", ["json", "yaml"])
def test_read_commands_print_the_api_s_answer_as_json_or_yaml(output: str) -> None:
    seen, handle = recorder(200, {"items": [JOB], "next_cursor": None})
    for command in (["ls"], ["workers", "ls"], ["dlq", "ls"], ["events", "job-1"], ["templates", "ls"],
                    ["command", "c1"], ["audit"]):
        result = run(handle, *command, "-o", output)
        assert result.exit_code == 0, result.output
        parsed = json.loads(result.stdout) if output == "json" else yaml.safe_load(result.stdout)
        assert parsed == ({"items": [JOB], "next_cursor": None} if command[0] != "events" else [JOB]), command


def test_replay_shows_progress_on_stderr_and_prints_only_its_json_on_stdout(monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    import jobstream.projections.replay as replay_module
    from jobstream.cli import app

    def fake_replay(settings: object, schema: str, progress: Any) -> dict[str, Any]:
        for done in (0, 50, 100):
            progress(done, 100)
        return {"schema": schema, "messages": 100}

    monkeypatch.setattr(replay_module, "replay_command", fake_replay)
    result = CliRunner().invoke(app, ["replay", "--schema", "s1"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"schema": "s1", "messages": 100}


def test_ls_passes_the_submission_time_range() -> None:
    seen, handle = recorder(200, {"items": [JOB], "next_cursor": None})
    assert run(handle, "ls", "--since", "2026-03-01T00:00:00Z", "--until", "2026-03-02T00:00:00+01:00").exit_code == 0
    assert seen[0].url.params["submitted_since"] == "2026-03-01T00:00:00Z"
    assert seen[0].url.params["submitted_until"] == "2026-03-02T00:00:00+01:00"


def test_secrets_become_env_from_or_headers_from_of_the_tasks_that_take_them() -> None:
    def task_of(task: TaskOptions) -> dict[str, Any]:
        return submission_body(JobOptions(name="n"), task, ScheduleOptions(), RetryOptions())["task"]

    refs = {"DB_PASSWORD": {"secret": "db-password"}}
    assert task_of(TaskOptions(argv=["psql"], secret_env=["DB_PASSWORD=db-password"]))["env_from"] == refs
    python = task_of(TaskOptions(python="m:f", env=["A=1"], secret_env=["DB_PASSWORD=db-password"]))
    assert python["env"] == {"A": "1"} and python["env_from"] == refs
    http = task_of(TaskOptions(http="https://x/", secret_headers=["Authorization=api-bearer"]))
    assert http["headers_from"] == {"Authorization": {"secret": "api-bearer"}}
    with pytest.raises(typer.BadParameter, match="does not apply"):
        task_of(TaskOptions(http="https://x/", secret_env=["A=b"]))

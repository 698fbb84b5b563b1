"""The CLI's API commands build the right requests and show problems, not tracebacks."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import typer
from typer.testing import CliRunner

from jobstream.client import make_jobs_app, register

JOB = {"job_id": "0190-1", "name": "echo", "status": "queued", "queue": "default", "priority": 5,
       "submitted_at": "2026-01-01T12:00:00Z"}
Handler = Callable[[httpx.Request], httpx.Response]


def run(handler: Handler, *args: str) -> Any:
    app = make_jobs_app(httpx.MockTransport(handler))
    return CliRunner().invoke(app, list(args),
                              env={"JOBSTREAM_API_URL": "http://api.test"})


def recorder(status: int, body: Any) -> tuple[list[httpx.Request], Handler]:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status, json=body)

    return seen, handle


def test_submit_sends_a_shell_job_and_prints_it_as_json() -> None:
    seen, handle = recorder(201, JOB)
    result = run(handle, "submit", "--name", "x", "--priority", "3", "--timeout", "30", "--label", "team=a",
                 "--env", "A=1", "--idempotency-key", "k", "--max-attempts", "2", "-o", "json", "--",
                 "echo", "-n", "hi")

    assert result.exit_code == 0, result.output
    [request] = seen
    assert request.method == "POST" and str(request.url) == "http://api.test/v1/jobs"
    assert json.loads(request.content) == {
        "name": "x", "queue": "default", "priority": 3, "labels": {"team": "a"}, "timeout_s": 30.0,
        "idempotency_key": "k", "retry": {"max_attempts": 2},
        "task": {"type": "shell", "argv": ["echo", "-n", "hi"], "env": {"A": "1"}, "shell": False}}
    assert json.loads(result.stdout) == JOB


def test_submit_names_the_job_after_the_program_by_default() -> None:
    seen, handle = recorder(201, JOB)
    assert run(handle, "submit", "--", "/usr/bin/env").exit_code == 0
    assert json.loads(seen[0].content)["name"] == "env"


def test_ls_passes_filters_and_prints_a_table() -> None:
    seen, handle = recorder(200, {"items": [JOB], "next_cursor": "abc"})
    result = run(handle, "ls", "--status", "queued", "--status", "running", "--queue", "q", "--limit", "5")

    assert result.exit_code == 0, result.output
    assert seen[0].url.params.get_list("status") == ["queued", "running"]
    assert seen[0].url.params["queue"] == "q" and seen[0].url.params["limit"] == "5"
    assert "0190-1" in result.stdout and "--cursor abc" in result.stdout


def test_get_cancel_and_events_hit_their_routes() -> None:
    seen, handle = recorder(200, {**JOB, "items": [{"seq": 1, "type": "JobSubmitted", "occurred_at": "t",
                                                    "actor": "api", "payload": {}}]})
    assert run(handle, "get", "0190-1").exit_code == 0
    assert run(handle, "cancel", "0190-1", "--reason", "no").exit_code == 0
    result = run(handle, "events", "0190-1")
    assert result.exit_code == 0 and "JobSubmitted" in result.stdout
    assert [(r.method, r.url.path) for r in seen] == [
        ("GET", "/v1/jobs/0190-1"), ("GET", "/v1/jobs/0190-1/executions"), ("POST", "/v1/jobs/0190-1/cancel"),
        ("GET", "/v1/jobs/0190-1/events")]
    assert json.loads(seen[2].content) == {"reason": "no"}


def test_problems_are_printed_with_their_fields_and_exit_1() -> None:
    _, handle = recorder(422, {"type": "urn:jobstream:problem:validation", "title": "Unprocessable Content",
                               "status": 422, "detail": "not valid",
                               "errors": [{"field": "priority", "detail": "must be at most 10"}]})
    result = run(handle, "submit", "--priority", "11", "--", "true")

    assert result.exit_code == 1
    assert "422 Unprocessable Content: not valid" in result.stderr
    assert "priority: must be at most 10" in result.stderr


def test_an_unreachable_api_is_an_error_message() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    result = run(refuse, "get", "x")
    assert result.exit_code == 1 and "cannot reach the API at http://api.test" in result.stderr


def test_bad_label_is_a_usage_error() -> None:
    _, handle = recorder(201, JOB)
    assert run(handle, "submit", "--label", "novalue", "--", "true").exit_code == 2


def test_register_adds_the_commands_to_an_existing_app() -> None:
    app = typer.Typer()
    register(app)
    names = {command.name for command in app.registered_commands}
    assert names == {"submit", "get", "ls", "cancel", "retry", "events", "patch", "pause", "resume", "clone", "logs",
                     "command", "explain", "top", "audit", "bulk"}
    assert {group.name for group in app.registered_groups} == {"workers", "dlq", "templates"}


def test_patch_clone_and_cancel_by_filter_send_only_the_options_given() -> None:
    seen, handle = recorder(200, JOB)
    assert run(handle, "patch", "0190-1", "--priority", "3", "--env", "A=1", "-o", "json").exit_code == 0
    assert run(handle, "clone", "0190-1", "--name", "copy", "-o", "json").exit_code == 0
    assert run(handle, "pause", "0190-1", "-o", "json").exit_code == 0
    assert run(handle, "cancel", "--queue", "q", "--label", "team=a").exit_code == 0
    assert [(r.method, r.url.path, json.loads(r.content or b"null")) for r in seen] == [
        ("PATCH", "/v1/jobs/0190-1", {"priority": 3, "env": {"A": "1"}}),
        ("POST", "/v1/jobs/0190-1/clone", {"name": "copy"}),
        ("POST", "/v1/jobs/0190-1/pause", None),
        ("POST", "/v1/jobs:cancel", {"queue": "q", "label": "team=a"}),
    ]
    assert run(handle, "cancel").exit_code != 0  # neither a job nor a filter


def test_command_asks_what_became_of_a_command_by_its_id() -> None:
    fate = {"command_id": "billing:1", "job_id": "0190-1", "status": "rejected", "reason": "job exists",
            "events": [{"event_id": "0190-1:3", "type": "CommandRejected"}], "at": "2026-01-01T12:00:00Z"}
    seen, handle = recorder(200, fate)

    result = run(handle, "command", "billing:1")

    assert result.exit_code == 0, result.output
    assert [str(r.url) for r in seen] == ["http://api.test/v1/commands/billing:1"]
    assert json.loads(result.stdout) == fate

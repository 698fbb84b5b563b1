"""Job templates through the whole stack: created as events, run with parameters into jobs that
complete with the substituted values, refused with the parameter named, versioned, and rebuilt by
a replay of the templates topic."""

from __future__ import annotations

import json
from typing import Any

import httpx
from typer.testing import CliRunner

from jobstream.cli import app
from jobstream.config import Settings
from jobstream.projections.replay import replay
from tests.credentials import cli_env
from tests.integration.harness import wait_terminal

PROBLEM_JSON = "application/problem+json"
GREET: dict[str, Any] = {"name": "greet", "description": "says hello",
         "spec": {"name": "greet-{{who}}", "priority": "{{priority}}",
                  "task": {"type": "shell", "argv": ["sh", "-c", "echo hello {{who}} x{{times}}"]}},
         "params": [{"name": "who", "type": "string"}, {"name": "times", "type": "int", "default": 1},
                    {"name": "priority", "type": "int", "default": 5}]}


def _run(stack: httpx.Client, name: str, **body: Any) -> httpx.Response:
    return stack.post(f"/v1/templates/{name}:run", json=body)


def _completed_output(stack: httpx.Client, job: dict[str, Any]) -> str:
    done = wait_terminal(stack, [job["job_id"]], timeout_s=60)[job["job_id"]]
    assert done["status"] == "completed", done
    execution = stack.get(f"/v1/jobs/{job['job_id']}/executions").json()["items"][-1]
    return str(execution["stdout_tail"])


def test_a_template_runs_with_its_parameters_and_a_bad_one_is_named(stack: httpx.Client) -> None:
    # Given a template created over HTTP
    created = stack.post("/v1/templates", json=GREET)
    assert created.status_code == 201, created.text
    assert created.json()["version"] == 1 and created.json()["latest"] == 1

    # When it runs with parameters, the job is submitted as POST /v1/jobs submits, values substituted
    run = _run(stack, "greet", params={"who": "world", "times": 3, "priority": 2})
    assert run.status_code == 201, run.text
    job = run.json()
    assert job["name"] == "greet-world" and job["priority"] == 2
    assert job["labels"]["jobstream.template"] == "greet@1"
    assert _completed_output(stack, job) == "hello world x3\n"

    # And parameters of the wrong type, missing or unknown are a 422 naming each
    bad = _run(stack, "greet", params={"times": "3", "colour": "red"})
    assert bad.status_code == 422 and bad.headers["content-type"].startswith(PROBLEM_JSON)
    assert {e["field"] for e in bad.json()["errors"]} == {"params.times", "params.colour", "params.who"}
    # a value that makes the job itself invalid is named as POST /v1/jobs names it
    invalid = _run(stack, "greet", params={"who": "x", "priority": 99})
    assert invalid.status_code == 422 and [e["field"] for e in invalid.json()["errors"]] == ["priority"]
    assert _run(stack, "nobody", params={}).status_code == 404

    # A definition that could not be projected is refused before anything is published
    undeclared = stack.post("/v1/templates", json={"name": "bad", "spec": {"name": "{{nope}}"}})
    not_json = stack.post("/v1/templates", content='{"name": "bad", "spec": {"name": "x", "timeout_s": NaN}}',
                          headers={"content-type": "application/json"})  # Python's JSON reader takes NaN
    for refused in (undeclared, not_json):
        assert refused.status_code == 422 and [e["field"] for e in refused.json()["errors"]] == ["spec"]
    assert stack.get("/v1/templates/bad").status_code == 404
    # a spec the job refuses, whatever the values, is named at run time (labels must be an object)
    odd = {"name": "odd", "spec": {"name": "odd", "labels": "x", "task": {"type": "shell", "argv": ["true"]}}}
    assert stack.post("/v1/templates", json=odd).status_code == 201
    refused_job = _run(stack, "odd")
    assert refused_job.status_code == 422 and [e["field"] for e in refused_job.json()["errors"]] == ["labels"]


def test_a_template_with_a_schedule_makes_a_recurring_job(stack: httpx.Client) -> None:
    nightly = {"name": "nightly", "params": [{"name": "cron", "type": "string"}],
               "spec": {"name": "nightly", "task": {"type": "shell", "argv": ["true"]},
                        "schedule": {"cron": "{{cron}}", "timezone": "Europe/Paris"}}}
    assert stack.post("/v1/templates", json=nightly).status_code == 201
    run = _run(stack, "nightly", params={"cron": "0 3 * * *"})
    assert run.status_code == 201, run.text
    job = run.json()
    assert job["status"] == "scheduled" and job["next_run_at"] is not None
    assert job["spec"]["schedule"]["cron"] == "0 3 * * *" and job["labels"]["jobstream.template"] == "nightly@1"


def test_versions_each_run_as_they_were_and_survive_a_replay(stack: httpx.Client, test_settings: Settings,
                                                             unique_name: str) -> None:
    # Given two versions of one template
    assert stack.post("/v1/templates", json=GREET).status_code == 201
    second = {**GREET, "description": "says bye",
              "spec": {**GREET["spec"], "task": {"type": "shell", "argv": ["echo", "bye {{who}}"]}}}
    created = stack.post("/v1/templates", json=second)
    assert created.status_code == 201, created.text
    assert created.json()["version"] == 2

    # Then reads show the latest, or the version asked for
    assert stack.get("/v1/templates/greet").json()["description"] == "says bye"
    first = stack.get("/v1/templates/greet", params={"version": 1}).json()
    assert first["version"] == 1 and first["latest"] == 2 and first["spec"] == GREET["spec"]
    listed = stack.get("/v1/templates").json()["items"]
    assert [(t["name"], t["latest"]) for t in listed] == [("greet", 2)]
    assert stack.get("/v1/templates/greet", params={"version": 3}).status_code == 404
    # the CLI reads the same
    cli = CliRunner().invoke(app, ["templates", "get", "greet", "--version", "1"],
                             env=cli_env(stack))
    assert cli.exit_code == 0, cli.output
    assert json.loads(cli.output) == first

    # When the older version runs, and then the latest
    old = _run(stack, "greet", params={"who": "ann"}, version=1, idempotency_key="old-ann").json()
    new = _run(stack, "greet", params={"who": "bob"}).json()
    assert old["labels"]["jobstream.template"] == "greet@1" and new["labels"]["jobstream.template"] == "greet@2"
    assert _completed_output(stack, old) == "hello ann x1\n"
    assert _completed_output(stack, new) == "bye bob\n"
    # the same idempotency key with the same parameters is the same job
    again = _run(stack, "greet", params={"who": "ann"}, version=1, idempotency_key="old-ann")
    assert again.status_code == 200 and again.json()["job_id"] == old["job_id"]

    # And a replay of the topics into a new schema has both versions again
    replayed = replay(test_settings, f"{unique_name}_replay", timeout_s=120)
    assert replayed["rows"]["templates"] == 1

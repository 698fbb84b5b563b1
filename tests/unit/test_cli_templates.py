"""``jobstream templates``: the requests each command sends, and what it prints."""

from __future__ import annotations

import json
from pathlib import Path

from tests.unit.test_api_client import JOB, recorder, run

VERSION = {"name": "greet", "version": 2, "latest": 2, "description": "", "spec": {"name": "greet"},
           "params": [], "created_at": "2026-12-02T10:00:00Z"}


def test_create_sends_the_file_and_names_the_version(tmp_path: Path) -> None:
    template = {"name": "greet", "spec": {"name": "g-{{who}}"}, "params": [{"name": "who"}]}
    (tmp_path / "greet.json").write_text(json.dumps(template))
    seen, handle = recorder(201, VERSION)
    result = run(handle, "templates", "create", str(tmp_path / "greet.json"))
    assert result.exit_code == 0, result.output
    assert result.output == "greet version 2\n"
    [request] = seen
    assert (request.method, request.url.path, json.loads(request.content)) == ("POST", "/v1/templates", template)


def test_run_sends_typed_parameters_the_version_and_submit_options() -> None:
    seen, handle = recorder(201, JOB)
    result = run(handle, "templates", "run", "greet", "--param", "who=ann", "--param", "times=3",
                 "--param", "dry=true", "--version", "1", "--idempotency-key", "k1", "--label", "team=ml", "-o", "json")
    assert result.exit_code == 0, result.output
    [request] = seen
    assert (request.method, request.url.path) == ("POST", "/v1/templates/greet:run")
    assert json.loads(request.content) == {"params": {"who": "ann", "times": 3, "dry": True}, "version": 1,
                                           "idempotency_key": "k1", "labels": {"team": "ml"}}


def test_get_asks_for_the_version_and_a_bad_parameter_is_printed_by_field() -> None:
    seen, handle = recorder(200, VERSION)
    assert run(handle, "templates", "get", "greet", "--version", "2").exit_code == 0
    assert seen[0].url.path == "/v1/templates/greet" and seen[0].url.params["version"] == "2"
    problem = {"title": "Unprocessable Content", "detail": "the parameters do not fit",
               "errors": [{"field": "params.who", "detail": "is required (string)"}]}
    _, refuse = recorder(422, problem)
    refused = run(refuse, "templates", "run", "greet")
    assert refused.exit_code == 1 and "params.who: is required (string)" in refused.output

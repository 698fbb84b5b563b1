"""A process Python task's env_from and an HTTP task's headers_from, against the whole stack: the
child's environment and the request's header get the value, what leaves the worker is masked, and
the value is in no topic, table, process log nor API answer."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import httpx

from jobstream.config import Settings
from jobstream.secrets_admin import ensure_kek
from tests.integration.harness import ServiceProcess, wait_terminal
from tests.integration.test_secrets import Answers, tables_text, topics_bytes

VARIABLE = "tests.integration.jobs_for_tests:variable"


def _submitted(api: Answers, task: dict[str, Any]) -> str:
    answer = api("POST", "/v1/jobs", json={"name": "secret-task", "task": task})
    assert answer.status_code == 201, answer.text
    return str(answer.json()["job_id"])


def test_python_and_http_tasks_get_their_secrets_masked_and_kept_nowhere_in_clear(
        stack: httpx.Client, web: str, test_settings: Settings, services: dict[str, ServiceProcess],
        unique_name: str) -> None:
    secret = f"t0k3n-{uuid.uuid4().hex}"
    ensure_kek(test_settings)
    api = Answers(stack)
    assert api("PUT", "/v1/secrets/api-token", json={"value": secret}).status_code == 200
    # Given a process Python task reading a variable that is a secret, and an HTTP task sending one as a header
    python = _submitted(api, {"type": "python", "entrypoint": VARIABLE, "args": ["TOKEN"], "env": {"PLAIN": "p"},
                              "env_from": {"TOKEN": {"secret": "api-token"}}})
    plain = _submitted(api, {"type": "python", "entrypoint": VARIABLE, "args": ["PLAIN"], "env": {"PLAIN": "p"}})
    http = _submitted(api, {"type": "http", "url": f"{web}/authorization",
                            "headers_from": {"Authorization": {"secret": "api-token"}}})
    # When they run
    done = wait_terminal(stack, [python, plain, http], 120)
    # Then each got the value, and what it returned or printed left the worker masked
    assert done[python]["status"] == "completed" and json.loads(done[python]["result_json"]) == "***", done[python]
    assert json.loads(done[plain]["result_json"]) == "p"  # a plain variable, as given
    execution = api("GET", f"/v1/jobs/{python}/executions").json()["items"][0]
    assert execution["stdout_tail"] == "TOKEN=***\n"
    assert done[http]["status"] == "completed", done[http]
    assert json.loads(done[http]["result_json"])["body"] == {"authorization": "***"}  # the server got the value
    # And an inline task, which shares the worker's environment, may not have one: 422 naming the field
    inline = api("POST", "/v1/jobs", json={"name": "x", "task": {
        "type": "python", "entrypoint": VARIABLE, "isolation": "inline", "env_from": {"T": {"secret": "api-token"}}}})
    assert inline.status_code == 422 and inline.json()["errors"][0]["field"] == "task.isolation", inline.text
    api("GET", f"/v1/jobs/{python}"), api("GET", f"/v1/jobs/{http}/events")
    # And the value is in no topic, no table, no process's log and no answer
    needle = secret.encode()
    assert [t for t, data in topics_bytes(test_settings).items() if needle in data] == []
    assert [t for t, text in tables_text(test_settings, unique_name).items() if secret in text] == []
    assert [n for n, p in services.items() if needle in Path(p.log_path).read_bytes()] == []
    assert [t for t in api.texts if secret in t] == []

"""Who may do what, against the real API (its own process, real Kafka and Postgres): credentials,
namespaces, roles, and the role x route matrix generated from the OpenAPI document."""

from __future__ import annotations

import json
import stat
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

from jobstream.api import create_app
from jobstream.api.jwt_auth import LEEWAY_S
from jobstream.cli import app as cli_app
from jobstream.config import Settings
from jobstream.core.access import GRANTS, Permission, Role
from jobstream.infra.process import free_port, wait_until
from jobstream.infra.topics import Topics, ensure_topics
from jobstream.keys_admin import create_key, ensure_admin_key, read_quotas, revoke_key, set_quota
from tests.credentials import jwt_for
from tests.integration.harness import ServiceProcess, api_ready, poll

ECHO = {"name": "sec", "task": {"type": "shell", "argv": ["echo", "hi"]}}
PROBLEM_JSON = "application/problem+json"


@dataclass
class Api:
    settings: Settings
    url: str
    schema: str

    def as_(self, *grants: str, subject: str = "tests", namespace: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {jwt_for(*grants, subject=subject)}"}
        if namespace:
            headers["X-Jobstream-Namespace"] = namespace
        return httpx.Client(base_url=self.url, timeout=30, headers=headers)

    def bearer(self, token: str) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30, headers={"Authorization": f"Bearer {token}"})


@pytest.fixture(scope="module")
def api(infra_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """The state processor, the projector and the API (no worker: jobs stay queued)."""
    name = f"t{uuid.uuid4().hex[:12]}"
    port = free_port()
    settings = infra_settings.with_(topic_prefix=f"jobstream-{name}", partitions=3, api_url=f"http://127.0.0.1:{port}")
    ensure_topics(settings.kafka_bootstrap, Topics(settings.topic_prefix).specs(settings.partitions))
    logs = Path(tmp_path_factory.mktemp("logs"))
    commands = {"state-processor": ["state-processor"], "projector": ["projector", "--schema", name],
                "api": ["api", "--port", str(port), "--schema", name]}
    processes = {n: ServiceProcess(n, args, settings, logs).start() for n, args in commands.items()}
    try:
        with httpx.Client(base_url=settings.api_url, timeout=30) as client:
            wait_until(lambda: api_ready(client), 90, "the API to be ready")
        yield Api(settings, settings.api_url, name)
    finally:
        for process in processes.values():
            process.stop()


def submitted(client: httpx.Client) -> dict[str, Any]:
    response = client.post("/v1/jobs", json=ECHO)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


class Answer(Protocol):
    """An HTTP answer, of httpx or of the in-process TestClient (which uses its own httpx)."""

    @property
    def status_code(self) -> int: ...

    @property
    def text(self) -> str: ...

    @property
    def headers(self) -> Mapping[str, str]: ...

    def json(self) -> Any: ...


def assert_problem(response: Answer, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body: dict[str, Any] = response.json()
    return body


def test_a_request_without_credentials_is_401_problem_json_and_health_stays_public(api: Api) -> None:
    with httpx.Client(base_url=api.url, timeout=30) as anonymous:
        response = anonymous.get("/v1/jobs")
        assert assert_problem(response, 401)["title"] == "Unauthorized"
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert_problem(anonymous.post("/v1/jobs", json=ECHO), 401)
        assert anonymous.get("/healthz").status_code == 200
        assert anonymous.get("/readyz").status_code == 200


def test_an_expired_or_forged_jwt_is_refused(api: Api) -> None:
    expired = jwt_for("default:admin", ttl=timedelta(seconds=-5 - LEEWAY_S))  # past the clock skew allowed
    with api.bearer(expired) as client:
        assert "expired" in assert_problem(client.get("/v1/jobs"), 401)["detail"]
    forged = jwt_for("default:admin")[:-4] + "AAAA"
    with api.bearer(forged) as client:
        assert_problem(client.get("/v1/jobs"), 401)


def test_another_namespaces_job_is_404_to_every_read_and_action_and_absent_from_lists(api: Api) -> None:
    with api.as_("acme:operator") as acme, api.as_("default:operator") as default:
        job = submitted(acme)
        job_id = job["job_id"]
        assert job["namespace"] == "acme"
        for method, path in [("GET", f"/v1/jobs/{job_id}"), ("GET", f"/v1/jobs/{job_id}/events"),
                             ("GET", f"/v1/jobs/{job_id}/executions"), ("POST", f"/v1/jobs/{job_id}/cancel"),
                             ("POST", f"/v1/jobs/{job_id}/pause"), ("PATCH", f"/v1/jobs/{job_id}"),
                             ("GET", f"/v1/executions/{job_id}.1"), ("GET", f"/v1/executions/{job_id}.1/logs")]:
            body = {"priority": 1} if method == "PATCH" else None
            problem = assert_problem(default.request(method, path, json=body), 404)
            assert "acme" not in problem["detail"]
        assert job_id not in [j["job_id"] for j in default.get("/v1/jobs").json()["items"]]
        assert job_id not in [e["job_id"] for e in default.get("/v1/executions").json()["items"]]
        assert job_id in [j["job_id"] for j in acme.get("/v1/jobs").json()["items"]]
        assert acme.get(f"/v1/jobs/{job_id}/events").json()["items"][0]["namespace"] == "acme"


def test_a_namespaces_metrics_show_that_namespace_only(api: Api) -> None:
    ours, theirs = f"m{uuid.uuid4().hex[:8]}", f"m{uuid.uuid4().hex[:8]}"
    with api.as_(f"{ours}:submitter") as us, api.as_(f"{theirs}:submitter") as them:
        mine = [submitted(us)["job_id"] for _ in range(2)]
        submitted(them)
        for client in (us, them):  # every API answer counts in its caller's namespace
            client.get("/v1/jobs")
    with api.as_(f"{ours}:viewer") as viewer:
        def exposition() -> dict[tuple[str, str], float] | None:
            answer = viewer.get("/v1/metrics")
            assert answer.status_code == 200, answer.text
            seen = {(s.name, json.dumps(s.labels, sort_keys=True)): s.value
                    for f in text_string_to_metric_families(answer.text) for s in f.samples}
            queued = seen.get(("jobstream_namespace_jobs", json.dumps({"status": "queued"})), 0)
            return seen if queued == len(mine) else None
        seen = poll(exposition, 30, "the namespace's two queued jobs in its metrics")
    labels = [json.loads(key[1]) for key in seen]
    assert {"namespace": ours, "outcome": "created"} in labels
    assert not [found for found in labels if found.get("namespace") not in (None, ours)]  # nothing of theirs


def test_an_admin_acts_in_any_namespace_it_names_and_others_only_in_their_own(api: Api) -> None:
    with api.as_("acme:submitter") as acme:
        job_id = submitted(acme)["job_id"]
    with api.as_("default:admin", namespace="acme") as admin:
        assert admin.get(f"/v1/jobs/{job_id}").status_code == 200
    with api.as_("acme:operator", namespace="default") as elsewhere:
        assert_problem(elsewhere.get("/v1/jobs"), 403)


def test_a_submitter_changes_its_own_jobs_only(api: Api) -> None:
    with api.as_("acme:submitter", subject="alice") as alice, api.as_("acme:submitter", subject="bob") as bob:
        job_id = submitted(alice)["job_id"]
        assert bob.get(f"/v1/jobs/{job_id}").status_code == 200  # reads the namespace's jobs
        assert "own jobs" in assert_problem(bob.post(f"/v1/jobs/{job_id}/cancel"), 403)["detail"]
        assert alice.post(f"/v1/jobs/{job_id}/cancel").status_code in (200, 202)
        events = alice.get(f"/v1/jobs/{job_id}/events").json()["items"]
        assert [(e["type"], e["actor"]) for e in events][-1] == ("JobCancelled", "jwt:alice")


def test_an_api_key_works_once_created_and_is_refused_within_a_second_of_its_revocation(api: Api) -> None:
    token, record = create_key(api.settings, "acme", Role.OPERATOR, datetime.now(UTC), name="ci")
    with api.bearer(token.token) as client:
        poll(lambda: client.get("/v1/jobs").status_code == 200, 30, "the new key to be accepted")
        job = submitted(client)
        assert job["submitted_by"] == f"key:{record.key_id}" and job["namespace"] == "acme"
        with api.bearer(token.token[:-2] + "xx") as wrong:
            assert_problem(wrong.get("/v1/jobs"), 401)
        revoke_key(api.settings, record.key_id, datetime.now(UTC))  # acknowledged by the broker
        revoked_at = time.monotonic()
        poll(lambda: client.get("/v1/jobs").status_code == 401, 5, "the revoked key to be refused")
        assert time.monotonic() - revoked_at < 1.0
        assert "revoked" in client.get("/v1/jobs").json()["detail"]


def test_an_expired_api_key_is_refused(api: Api) -> None:
    token, _ = create_key(api.settings, "acme", Role.VIEWER, datetime.now(UTC) - timedelta(days=2),
                          expires_in=timedelta(days=1))
    with api.bearer(token.token) as client:
        poll(lambda: client.get("/v1/jobs").status_code == 401 and "expired" in client.get("/v1/jobs").text, 30,
             "the expired key to be refused as expired")


def _request(client: httpx.Client, method: str, path: str, operation: dict[str, Any]) -> httpx.Response:
    body: dict[str, Any] | None = {} if "requestBody" in operation else None
    return client.request(method, path, json=body)


def test_the_role_route_matrix_from_the_openapi_document(api: Api) -> None:
    """Every operation, every role: 403 unless the role grants the operation's permission; with it,
    not 401/403; and a permitted caller of another namespace gets 404 for a job of this one."""
    with api.as_("default:admin") as admin:
        document = admin.get("/openapi.json").json()
        job_id = submitted(admin)["job_id"]
    assert {"/v1/jobs:bulk-cancel", "/v1/jobs:bulk-retry", "/v1/dlq:redrive"} <= set(document["paths"])
    values = {"job_id": job_id, "execution_id": f"{job_id}.1", "worker_id": "no-such-worker",
              "command_id": "no-such-command", "name": "no-such-template"}
    matrix: list[str] = []
    for template, operations in document["paths"].items():
        path = template.format(**values)
        for method, operation in operations.items():
            permission = Permission(operation["x-permission"])
            for role in Role:
                with api.as_(f"other:{role.value}") as caller:
                    status = _request(caller, method.upper(), path, operation).status_code
                allowed = permission in GRANTS[role]
                if not allowed:
                    expected_ok = status == 403
                elif "{job_id}" in template or "{execution_id}" in template:
                    expected_ok = status == 404
                else:
                    expected_ok = status not in (401, 403)
                if not expected_ok:
                    matrix.append(f"{method.upper()} {template} as {role}: {status}")
    assert not matrix, "\n".join(matrix)


def test_the_first_start_writes_an_admin_key_the_cli_then_uses(api: Api, tmp_path: Path) -> None:
    # Given a machine whose CLI has no credentials yet
    settings = api.settings.with_(token=None, credentials_file=tmp_path / "credentials")
    # When `jobstream run` starts for the first time, and then again
    key_id = ensure_admin_key(settings, datetime.now(UTC))
    assert key_id is not None and stat.S_IMODE(settings.credentials_file.stat().st_mode) == 0o600
    assert ensure_admin_key(settings, datetime.now(UTC)) is None  # the key on file is kept
    # Then `jobstream submit -- echo hi` just works with it
    env = {"JOBSTREAM_API_URL": api.url, "JOBSTREAM_CREDENTIALS_FILE": str(settings.credentials_file)}

    def submit() -> str | None:
        result = CliRunner().invoke(cli_app, ["submit", "-o", "json", "--", "echo", "hi"], env=env)
        return result.stdout if result.exit_code == 0 else None

    job = json.loads(poll(submit, 30, "the CLI's submit to be accepted with the new key"))
    assert job["submitted_by"] == f"key:{key_id}"


def test_the_audit_trail_says_who_did_what_refusals_included(api: Api) -> None:
    # Given a refused attempt without credentials, a viewer refused a submit, and a submit and cancel
    since = datetime.now(UTC)
    with httpx.Client(base_url=api.url, timeout=30) as anonymous:
        assert anonymous.post("/v1/jobs", json=ECHO).status_code == 401
    with api.as_("audited:viewer", subject="vera") as viewer:
        assert viewer.post("/v1/jobs", json=ECHO).status_code == 403
    with api.as_("audited:operator", subject="otto") as operator:
        job_id = submitted(operator)["job_id"]
        assert operator.post(f"/v1/jobs/{job_id}/cancel").status_code in (200, 202)
    # When an admin of that namespace asks the trail
    with api.as_("audited:admin") as admin:
        def trail() -> list[dict[str, Any]] | None:
            items: list[dict[str, Any]] = admin.get("/v1/audit", params={"since": since.isoformat()}).json()["items"]
            return items if len(items) >= 4 else None
        entries = poll(trail, 30, "four audit entries")
        # Then each says who, as what, where from, what and how it was answered, newest first
        seen = {(e["actor"], e["role"], e["namespace"], e["action"], e["target"], e["status"]) for e in entries}
        assert ("unauthenticated", None, None, "submit_job", None, 401) in seen
        assert ("jwt:vera", "viewer", "audited", "submit_job", None, 403) in seen
        assert ("jwt:otto", "operator", "audited", "submit_job", None, 201) in seen
        assert ("jwt:otto", "operator", "audited", "cancel_job", job_id, 200) in seen or \
            ("jwt:otto", "operator", "audited", "cancel_job", job_id, 202) in seen
        assert all(e["address"] == "127.0.0.1" for e in entries)
        assert [e["at"] for e in entries] == sorted((e["at"] for e in entries), reverse=True)
        refused = next(e for e in entries if e["status"] == 403)
        assert "permission" in refused["detail"]
        # and filters by actor and action
        by_actor = admin.get("/v1/audit", params={"actor": "jwt:otto", "action": "cancel_job"}).json()["items"]
        assert [(e["actor"], e["action"]) for e in by_actor] == [("jwt:otto", "cancel_job")]
    # and the job's own events name the same actor
    with api.as_("audited:viewer") as viewer:
        events = viewer.get(f"/v1/jobs/{job_id}/events").json()["items"]
        assert {e["actor"] for e in events} == {"jwt:otto"}


def test_jobstream_audit_lists_the_trail_filtered_as_a_table_or_json(api: Api) -> None:
    # Given a refused submission in a namespace
    with api.as_("cli-audited:viewer", subject="vic") as viewer:
        assert viewer.post("/v1/jobs", json=ECHO).status_code == 403
    env = {"JOBSTREAM_API_URL": api.url, "JOBSTREAM_TOKEN": jwt_for("cli-audited:admin")}

    def audit(*args: str) -> str | None:
        result = CliRunner().invoke(cli_app, ["audit", "--actor", "jwt:vic", "--since", "1h", *args], env=env)
        assert result.exit_code == 0, result.output
        return result.stdout if "jwt:vic" in result.stdout else None
    # When an admin of it runs `jobstream audit` with filters, Then it lists the refusal, as JSON
    page = json.loads(poll(lambda: audit("--action", "submit_job", "-o", "json"), 30, "the refusal on the trail"))
    assert [(e["actor"], e["action"], e["status"]) for e in page["items"]] == [("jwt:vic", "submit_job", 403)]
    # and as a table; a filter that matches nothing lists nothing
    table = audit("--limit", "1")
    assert table is not None and "submit_job" in table and "403" in table
    assert audit("--action", "cancel_job") is None
    # and a caller who is not an admin is refused, saying why
    refused = CliRunner().invoke(cli_app, ["audit"], env={**env, "JOBSTREAM_TOKEN": jwt_for("cli-audited:operator")})
    assert refused.exit_code == 1 and "403" in refused.output


def test_submissions_past_the_rate_are_429_with_retry_after_and_audited(api: Api) -> None:
    # Given an API allowing one submission a second per key (two in a burst)
    settings = api.settings.with_(key_submit_rate=1.0)
    headers = {"Authorization": f"Bearer {jwt_for('limited:submitter', subject='eager')}"}
    with TestClient(create_app(settings, schema=api.schema), headers=headers) as client:
        # When it submits three times at once (bodies the route refuses: the limit comes first)
        answers = [client.post("/v1/jobs", json={}) for _ in range(3)]
        # Then the burst passes and the third is refused, saying when to come back
        assert [a.status_code for a in answers] == [422, 422, 429]
        assert answers[2].headers["retry-after"] == "1"
        assert assert_problem(answers[2], 429)["type"] == "urn:jobstream:problem:rate-limited"
        # and reads are not limited
        assert client.get("/v1/jobs").status_code != 429
    with api.as_("limited:admin") as admin:
        def refused() -> list[dict[str, Any]] | None:
            items = admin.get("/v1/audit", params={"actor": "jwt:eager"}).json()["items"]
            return [e for e in items if e["status"] == 429] or None
        assert poll(refused, 30, "the 429 on the audit trail")[0]["action"] == "submit_job"


def test_a_namespace_rate_set_with_quotas_set_reaches_the_running_api(api: Api) -> None:
    # Given a namespace whose submissions the API does not limit yet (the defaults are far above this)
    with api.as_("quota-ns:submitter", subject="q") as client:
        assert [client.post("/v1/jobs", json={}).status_code for _ in range(3)] == [422, 422, 422]
        # When an operator sets its rate to one a second
        set_quota(api.settings, "quota-ns", datetime.now(UTC), submit_rate=1.0)
        # Then the running API refuses its bursts past two, soon
        poll(lambda: 429 in [client.post("/v1/jobs", json={}).status_code for _ in range(3)], 10,
             "the namespace's new rate to apply")
    assert read_quotas(api.settings)["quota-ns"].submit_rate == 1.0


def test_a_token_cookie_authorises_reads_only(api: Api) -> None:
    cookie = {"jobstream_token": jwt_for("default:admin")}
    with httpx.Client(base_url=api.url, timeout=30, cookies=cookie) as browser:
        assert browser.get("/v1/jobs").status_code == 200
        assert_problem(browser.post("/v1/jobs", json=ECHO), 401)  # a change needs the header: no CSRF

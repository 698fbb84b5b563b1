"""The API over HTTPS (`jobstream api --tls-cert --tls-key`): served with a certificate of a local
CA, refused to plain HTTP, the dashboard's session cookie Secure; the CLI and the SDK trust the CA
through JOBSTREAM_CA_FILE (or the standard SSL_CERT_FILE) and refuse the API without it."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from jobstream.client import make_jobs_app
from jobstream.config import Settings
from jobstream.infra.process import free_port, wait_until
from jobstream.sdk import Client
from jobstream.tls import trusting
from tests.credentials import auth_headers
from tests.integration.harness import ServiceProcess, api_ready, service_args
from tests.tls_certs import make_certificates


def test_the_api_serves_https_and_its_clients_trust_the_ca_they_are_given(
        test_settings: Settings, services: dict[str, ServiceProcess], schema: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    files = make_certificates(tmp_path)
    port = free_port()
    url = f"https://127.0.0.1:{port}"
    args = [*service_args("api", port, schema), "--tls-cert", str(files.cert), "--tls-key", str(files.key)]
    services["api"] = ServiceProcess("api", args, test_settings, tmp_path).start()
    with httpx.Client(base_url=url, verify=trusting(files.ca) or True, headers=auth_headers(test_settings)) as client:
        wait_until(lambda: api_ready(client), 60, "the API to answer over https")
        assert client.get("/v1/jobs").json()["items"] == []
        login = client.post("/ui/login", data={"token": test_settings.token or "", "next": "/ui"})
        assert login.status_code == 303 and "secure" in login.headers["set-cookie"].lower().split("; ")

    with pytest.raises(httpx.HTTPError):  # plain HTTP to the TLS port: no answer
        httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10)
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):  # the CA is not trusted by default
        httpx.get(f"{url}/healthz", timeout=10)

    runner, app = CliRunner(), make_jobs_app()
    env = {"JOBSTREAM_API_URL": url, "JOBSTREAM_TOKEN": test_settings.token, "SSL_CERT_FILE": None,
           "JOBSTREAM_CA_FILE": None}
    for trust in ({"JOBSTREAM_CA_FILE": str(files.ca)}, {"SSL_CERT_FILE": str(files.ca)}):
        listed = runner.invoke(app, ["ls", "-o", "json"], env={**env, **trust})
        assert listed.exit_code == 0 and json.loads(listed.stdout)["items"] == [], (trust, listed.output)
    untrusted = runner.invoke(app, ["ls"], env=env)
    assert untrusted.exit_code == 1 and "CERTIFICATE_VERIFY_FAILED" in untrusted.stderr

    monkeypatch.setenv("JOBSTREAM_API_URL", url)
    monkeypatch.setenv("JOBSTREAM_CA_FILE", str(files.ca))
    monkeypatch.setenv("JOBSTREAM_TOKEN", test_settings.token or "")
    sdk = Client.from_env()
    try:
        assert list(sdk.list()) == []
    finally:
        sdk.close()

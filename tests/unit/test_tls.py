"""HTTPS settings: the API's certificate and key go together; a client's CA file is trusted besides
the system's roots."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from jobstream.cli import app
from jobstream.tls import server_files, trusting
from tests.tls_certs import make_certificates


def test_a_certificate_and_its_key_go_together_and_must_exist(tmp_path: Path) -> None:
    files = make_certificates(tmp_path)
    assert server_files(None, None) is None
    assert server_files(files.cert, files.key) == (files.cert, files.key)
    with pytest.raises(ValueError, match="go together"):
        server_files(files.cert, None)
    with pytest.raises(ValueError, match="not a readable file"):
        server_files(files.cert, tmp_path / "missing.key")


def test_the_api_refuses_a_certificate_without_its_key(tmp_path: Path) -> None:
    files = make_certificates(tmp_path)
    result = CliRunner().invoke(app, ["api", "--port", "1", "--tls-cert", str(files.cert)], env={"COLUMNS": "300"})
    assert result.exit_code == 2 and "--tls-cert and --tls-key go together" in result.output, result.output


def test_a_ca_file_is_trusted_besides_the_system_roots(tmp_path: Path) -> None:
    files = make_certificates(tmp_path)
    assert trusting(None) is None
    context = trusting(files.ca)
    assert context is not None
    assert any("jobstream tests CA" in str(cert["subject"]) for cert in context.get_ca_certs())


def test_the_certificate_may_come_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from jobstream.cli import _tls
    from jobstream.config import Settings

    files = make_certificates(tmp_path)
    monkeypatch.setenv("JOBSTREAM_TLS_CERT", str(files.cert))
    monkeypatch.setenv("JOBSTREAM_TLS_KEY", str(files.key))
    assert _tls(Settings.from_env(), None, None) == (files.cert, files.key)


def test_run_passes_the_certificate_to_its_api_and_asks_for_an_https_api_url(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from jobstream.cli import _api_options
    from jobstream.infra.stack import Infra

    files = make_certificates(tmp_path)
    assert _api_options(False, (files.cert, files.key)) == ["--tls-cert", str(files.cert), "--tls-key", str(files.key)]
    assert _api_options(True, None) == ["--no-auth"]
    monkeypatch.setattr(Infra, "up", lambda self: pytest.fail("the infrastructure was started"))
    result = CliRunner().invoke(app, ["run", "--tls-cert", str(files.cert), "--tls-key", str(files.key)],
                                env={"JOBSTREAM_STATE_DIR": str(tmp_path), "JOBSTREAM_API_URL": "http://127.0.0.1:8000",
                                     "COLUMNS": "300"})
    assert result.exit_code == 2 and "set JOBSTREAM_API_URL to its https:// URL" in result.output, result.output

"""Worker reports bound to their worker id: the keys, the MAC, the check; the worker's ask for its
key; the reports secret's file."""

from __future__ import annotations

import base64
import stat
from collections.abc import Mapping
from pathlib import Path

import httpx
import pytest

from jobstream.config import Settings
from jobstream.core.report_keys import REPORT_MAC_HEADER, mac_headers, report_refusal, worker_report_key
from jobstream.report_secret import ensure_reports_secret, load_reports_secret, with_report_signing
from jobstream.worker.report_key import ReportKeyRefused, _ask

SECRET = bytes(range(32))
VALUE = b"\x00\x01a report's bytes"


def test_a_report_signed_with_its_workers_key_is_believed() -> None:
    headers = mac_headers(worker_report_key(SECRET, "w1"), VALUE)
    assert report_refusal(SECRET, "w1", VALUE, headers) is None
    assert report_refusal(SECRET, "w1", VALUE, [("other", b"x"), *headers]) is None


def test_a_report_for_another_worker_or_changed_or_unsigned_is_not() -> None:
    headers = mac_headers(worker_report_key(SECRET, "w1"), VALUE)
    assert "not signed with that worker's key" in (report_refusal(SECRET, "w2", VALUE, headers) or "")
    assert "not signed with that worker's key" in (report_refusal(SECRET, "w1", VALUE + b"!", headers) or "")
    assert "not signed" in (report_refusal(bytes(32), "w1", VALUE, headers) or "")  # another deployment's secret
    assert "without its signature" in (report_refusal(SECRET, "w1", VALUE, None) or "")
    assert "without its signature" in (report_refusal(SECRET, "w1", VALUE, [(REPORT_MAC_HEADER, None)]) or "")


def test_each_worker_has_its_own_key() -> None:
    assert worker_report_key(SECRET, "w1") != worker_report_key(SECRET, "w2")
    assert worker_report_key(SECRET, "w1") == worker_report_key(SECRET, "w1")


def _answering(status: int, body: Mapping[str, object]) -> httpx.Client:
    return httpx.Client(base_url="http://api", transport=httpx.MockTransport(
        lambda request: httpx.Response(status, json=body)))


def test_the_worker_takes_the_key_the_api_gives_or_none_where_reports_are_unchecked() -> None:
    key = worker_report_key(SECRET, "w1")
    assert _ask(_answering(200, {"key": base64.b64encode(key).decode()}), "w1") == (True, key, "")
    unchecked = {"type": "https://jobstream.dev/problems/reports-unchecked"}
    assert _ask(_answering(404, unchecked), "w1") == (True, None, "")


def test_the_worker_asks_again_while_the_api_is_away_and_stops_at_a_refusal() -> None:
    answered, _, reason = _ask(_answering(503, {"detail": "starting"}), "w1")
    assert not answered and reason.startswith("503")
    with pytest.raises(ReportKeyRefused, match="403"):
        _ask(_answering(403, {"detail": "bound to w2"}), "w1")
    with pytest.raises(ReportKeyRefused, match="404"):
        _ask(_answering(404, {"type": "https://jobstream.dev/problems/not-found"}), "w1")


def test_the_secret_file_is_made_once_private_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "state" / "reports.secret"
    assert ensure_reports_secret(path) and not ensure_reports_secret(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    settings = Settings.model_construct(reports_secret_file=path)
    secret = load_reports_secret(settings)
    assert secret is not None and len(secret) == 32
    assert load_reports_secret(Settings.model_construct(reports_secret_file=None)) is None
    path.write_text(base64.b64encode(bytes(16)).decode() + "\n")
    with pytest.raises(ValueError, match="holds 16 bytes, 32 needed"):
        load_reports_secret(settings)
    path.write_text("not base64!\n")
    with pytest.raises(ValueError, match="JOBSTREAM_REPORTS_SECRET_FILE"):
        load_reports_secret(settings)


def test_jobstream_run_signs_and_checks_reports(tmp_path: Path) -> None:
    settings, made = with_report_signing(Settings.model_construct(state_dir=tmp_path, reports_secret_file=None))
    assert made and settings.sign_reports and settings.reports_secret_file == tmp_path / "reports.secret"
    assert not with_report_signing(settings)[1]  # the next start keeps it

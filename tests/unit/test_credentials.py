"""The CLI's credentials file: owner-only, one token per API URL, overridden by JOBSTREAM_TOKEN."""

from __future__ import annotations

import stat
from pathlib import Path

from jobstream.config import Settings
from jobstream.credentials import read_tokens, save_token, token_for


def test_a_saved_token_is_readable_by_its_owner_only_and_found_by_api_url(tmp_path: Path) -> None:
    path = tmp_path / "config" / "credentials"
    save_token(path, "http://127.0.0.1:8000/", "jsk_a")
    save_token(path, "http://other:8000", "jsk_b")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_tokens(path) == {"http://127.0.0.1:8000": "jsk_a", "http://other:8000": "jsk_b"}
    settings = Settings(credentials_file=path)
    assert token_for(settings, "http://127.0.0.1:8000") == "jsk_a"
    assert token_for(settings.with_(token="jwt"), "http://127.0.0.1:8000") == "jwt"
    assert token_for(settings, "http://unknown:1") is None


def test_a_wider_file_is_narrowed_and_a_broken_one_reads_as_empty(tmp_path: Path) -> None:
    path = tmp_path / "credentials"
    path.write_text("not json")
    path.chmod(0o644)
    assert read_tokens(path) == {}
    save_token(path, "http://a", "t")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

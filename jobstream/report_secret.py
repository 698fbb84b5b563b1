"""The reports secret's file (core/report_keys.py): made once by `jobstream run`, read at start by
the state processor (to check reports) and the API (to hand workers their keys)."""

from __future__ import annotations

import base64
import secrets
from pathlib import Path

from jobstream.config import REPORTS_SECRET_FILE, Settings
from jobstream.core.report_keys import SECRET_BYTES
from jobstream.credentials import write_private

DEFAULT_FILE = "reports.secret"  # in the state directory, unless JOBSTREAM_REPORTS_SECRET_FILE names one


def with_report_signing(settings: Settings) -> tuple[Settings, bool]:
    """``jobstream run``'s settings: a reports secret (made on first start), checked by the state
    processor and handed out by the API, and workers that sign. Whether the secret was made now."""
    path = settings.reports_secret_file or settings.state_dir / DEFAULT_FILE
    made = ensure_reports_secret(path)
    return settings.with_(reports_secret_file=path, sign_reports=True), made


def ensure_reports_secret(path: Path) -> bool:
    """A new secret in ``path`` (mode 0600) unless one is there; whether one was made."""
    if path.exists():
        return False
    write_private(path, base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode() + "\n")
    return True


def load_reports_secret(settings: Settings) -> bytes | None:
    """The secret, or None when reports are not checked (no file configured); ValueError naming
    the file when it is configured but missing or not a secret."""
    path = settings.reports_secret_file
    if path is None:
        return None
    try:
        secret = base64.b64decode(path.read_text().strip(), validate=True)
    except (OSError, ValueError) as error:
        raise ValueError(f"{REPORTS_SECRET_FILE} {path}: {error}") from None
    if len(secret) < SECRET_BYTES:
        raise ValueError(f"{REPORTS_SECRET_FILE} {path}: holds {len(secret)} bytes, {SECRET_BYTES} needed")
    return secret

"""The CLI's credentials file: the token to present to each API URL, readable by its owner only.

``jobstream run`` writes the admin key it creates on first start here, so that the CLI's commands
just work on the machine that runs the stack; ``JOBSTREAM_TOKEN`` overrides it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from jobstream.config import Settings


def read_tokens(path: Path) -> dict[str, str]:
    try:
        tokens = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return {str(url): str(token) for url, token in tokens.items()} if isinstance(tokens, dict) else {}


def save_token(path: Path, api_url: str, token: str) -> None:
    """Add (or replace) the token of ``api_url``; the file is created with mode 0600, never wider."""
    tokens = {**read_tokens(path), api_url.rstrip("/"): token}
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        json.dump(tokens, file, indent=2)
    path.chmod(0o600)  # an older file may have been wider


def token_for(settings: Settings, api_url: str) -> str | None:
    """What the CLI presents to ``api_url``: ``JOBSTREAM_TOKEN``, else the credentials file's."""
    return settings.token or read_tokens(settings.credentials_file).get(api_url.rstrip("/"))

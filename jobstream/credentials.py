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
    write_private(path, json.dumps(tokens, indent=2))


def write_private(path: Path, text: str) -> None:
    """A file of keys or tokens written whole, mode 0600 (never wider, whatever a leftover draft
    had), in a directory made 0700, then moved over the old one."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    draft = path.with_name(path.name + ".new")
    descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(text)
    draft.chmod(0o600)
    draft.replace(path)


def token_for(settings: Settings, api_url: str) -> str | None:
    """What the CLI presents to ``api_url``: ``JOBSTREAM_TOKEN``, else the credentials file's."""
    return settings.token or read_tokens(settings.credentials_file).get(api_url.rstrip("/"))

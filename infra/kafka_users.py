"""The secure broker's SCRAM users, one per role, with generated passwords kept in a 0600 file.

A role is a principal (``User:<role>``): each process authenticates as its role, and the broker's
ACLs (``kafka_acls.py``) say what each may read and write. ``broker`` (between the broker and its
controller) and ``admin`` (``infra up``, operators' tools) are super users: no ACL applies to them.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

SUPER_USERS = ("broker", "admin")
ROLES = ("state-processor", "dispatcher", "timers", "worker-monitor", "projector", "api", "client", "worker")
MECHANISM = "SCRAM-SHA-512"


def principal(user: str) -> str:
    return f"User:{user}"


def ensure_users(path: Path) -> dict[str, str]:
    """Every user's password, drawn (and written 0600) for those the file does not have yet."""
    users: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    missing = [user for user in (*SUPER_USERS, *ROLES) if user not in users]
    if missing:
        users |= {user: secrets.token_urlsafe(24) for user in missing}
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(users, out, indent=2)
    return users

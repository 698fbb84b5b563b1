"""The tests' credentials, in one place: every test process, API and CLI of a session trusts JWTs
signed with this secret, and callers present an admin token of the default namespace unless a
test asks for another (``jwt_for``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import jwt

from jobstream.config import Settings

JWT_SECRET = "jobstream-tests-only-hs256-secret-0123456789"


def jwt_for(*grants: str, subject: str = "tests", ttl: timedelta = timedelta(days=2)) -> str:
    """A bearer token with ``namespace:role`` grants, e.g. ``jwt_for("acme:operator")``."""
    claims = {"sub": subject, "permissions": list(grants), "exp": datetime.now(UTC) + ttl}
    return jwt.encode(claims, JWT_SECRET, algorithm="HS256")


def admin_token() -> str:
    """The token of an admin of the default namespace, which the tests' CLI presents."""
    return jwt_for("default:admin")


def with_credentials(settings: Settings, credentials_file: str) -> Settings:
    """``settings`` whose API trusts the tests' JWTs and whose CLI presents a default admin's."""
    return settings.with_(jwt_secret=JWT_SECRET, token=admin_token(),
                          credentials_file=credentials_file)


def auth_headers(settings: Settings) -> dict[str, str]:
    return {"Authorization": f"Bearer {settings.token}"} if settings.token else {}


def cli_env(client: httpx.Client) -> dict[str, str]:
    """The environment that points the CLI at ``client``'s API with ``client``'s credentials."""
    token = client.headers.get("authorization", "").removeprefix("Bearer ")
    return {"JOBSTREAM_API_URL": str(client.base_url), **({"JOBSTREAM_TOKEN": token} if token else {})}

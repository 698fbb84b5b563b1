"""Who looks at a dashboard page: what the page may offer them (only the actions the API would
allow) and the CSRF token its forms carry (api/csrf.py)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from markupsafe import Markup, escape

from jobstream.api.auth import Authenticator
from jobstream.api.csrf import CSRF_FIELD, csrf_token
from jobstream.core.access import Access, Permission, Principal, job_access


@dataclass(frozen=True)
class Viewer:
    """Who looks at a page: ``principal`` (None before signing in), whether credentials are
    enforced at all (``--no-auth``: everyone may do everything), and the session's CSRF token."""

    principal: Principal | None
    enforced: bool
    csrf: str = ""

    def may(self, permission: str, job: Mapping[str, Any] | None = None) -> bool:
        """Whether to offer an action asking ``permission`` (on ``job``): the API would allow it."""
        if not self.enforced:
            return True
        wanted = Permission(permission)
        if self.principal is None or not self.principal.may(wanted):
            return False
        return job is None or job_access(self.principal, wanted, str(job.get("namespace")),
                                         job.get("submitted_by")) is Access.ALLOWED

    @property
    def csrf_field(self) -> Markup:
        """The hidden field every dashboard form carries."""
        return Markup(f'<input type="hidden" name="{CSRF_FIELD}" value="{escape(self.csrf)}">')


def viewer_of(request: Request) -> Viewer:
    """The viewer ``authorize`` recognised for this request (none on the public login page)."""
    auth: Authenticator = request.app.state.auth
    token: str = getattr(request.state, "token", "")
    return Viewer(getattr(request.state, "principal", None), auth.enabled,
                  csrf_token(auth.csrf_secret, token) if token else "")

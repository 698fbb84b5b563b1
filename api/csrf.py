"""The dashboard's defence against forged cross-site posts (a double check with SameSite=Strict).

A browser's session is the ``jobstream_token`` cookie. A cookie-authorised POST under ``/ui`` must
also carry this session's CSRF token, an HMAC of the session token with a server secret, in a form
field (the dashboard puts it in every form) or a header (for scripts): a page of another site can
make the browser send the cookie, never read the token. Pure: the secret and the token are passed in.
"""

from __future__ import annotations

import hashlib
import hmac

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"


def csrf_token(secret: bytes, session_token: str) -> str:
    """The CSRF token of the session that ``session_token`` opens."""
    return hmac.new(secret, session_token.encode(), hashlib.sha256).hexdigest()


def csrf_valid(secret: bytes, session_token: str, given: str | None) -> bool:
    """Whether ``given`` is the session's CSRF token (compared in constant time)."""
    return bool(given) and hmac.compare_digest(csrf_token(secret, session_token), given or "")

"""The dashboard's session pieces that need no server: CSRF tokens (api/csrf.py), which actions a
page offers its viewer (ui/viewer.py), and where a login may lead (ui/session.py)."""

from __future__ import annotations

import pytest

from jobstream.api.csrf import csrf_token, csrf_valid
from jobstream.core.access import Principal, Role
from jobstream.ui.session import safe_next
from jobstream.ui.viewer import Viewer

SECRET = b"s" * 32


def test_a_csrf_token_belongs_to_one_session_and_one_server_secret() -> None:
    token = csrf_token(SECRET, "jsk_abc")
    assert csrf_valid(SECRET, "jsk_abc", token)
    assert not csrf_valid(SECRET, "jsk_other", token)  # another session's
    assert not csrf_valid(b"t" * 32, "jsk_abc", token)  # another server's
    assert not csrf_valid(SECRET, "jsk_abc", None) and not csrf_valid(SECRET, "jsk_abc", "")


def test_a_page_offers_only_what_the_viewers_role_may_do() -> None:
    mine = {"namespace": "acme", "submitted_by": "key:me"}
    theirs = {"namespace": "acme", "submitted_by": "key:other"}
    viewer = Viewer(Principal("key:v", Role.VIEWER, "acme"), enforced=True)
    assert not viewer.may("act", mine) and not viewer.may("submit") and not viewer.may("operate")
    submitter = Viewer(Principal("key:me", Role.SUBMITTER, "acme"), enforced=True)
    assert submitter.may("act", mine) and not submitter.may("act", theirs) and not submitter.may("operate")
    operator = Viewer(Principal("key:o", Role.OPERATOR, "acme"), enforced=True)
    assert operator.may("act", theirs) and operator.may("operate")
    assert not operator.may("act", {"namespace": "other"})
    assert Viewer(None, enforced=False).may("operate")  # --no-auth: everyone may everything
    assert not Viewer(None, enforced=True).may("read")


@pytest.mark.parametrize(("asked", "led_to"), [
    ("/ui/jobs?status=failed", "/ui/jobs?status=failed"), ("/ui", "/ui"), (None, "/ui"),
    ("//evil.example/ui", "/ui"), ("https://evil.example", "/ui"), ("/v1/jobs", "/ui"), ("/ui//evil", "/ui"),
])
def test_a_login_leads_back_to_a_dashboard_page_only(asked: str | None, led_to: str) -> None:
    assert safe_next(asked) == led_to

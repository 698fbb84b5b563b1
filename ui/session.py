"""Signing in to the dashboard: the login page where a person pastes a token (an API key or a JWT),
kept in the ``jobstream_token`` cookie (httpOnly, SameSite=Strict, Secure over https); signing out;
and a page asked for without valid credentials sending the browser to the login page."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, FastAPI, Form, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from jobstream.api.auth import TOKEN_COOKIE, Authenticator
from jobstream.api.problems import ApiProblem, on_problem
from jobstream.ui.render import page

LOGIN = "/ui/login"
_DASHBOARD_PAGE = re.compile(r"^/ui(/[^/][^\s]*)?$")  # where a login may lead: never another site
Next = Annotated[str | None, Query(max_length=500)]


def safe_next(target: str | None) -> str:
    return target if target and _DASHBOARD_PAGE.match(target) else "/ui"


def login_url(target: str | None = None, notice: str | None = None) -> str:
    query = {k: v for k, v in (("next", target), ("notice", notice)) if v}
    return LOGIN + (f"?{urlencode(query)}" if query else "")


def session_router() -> APIRouter:
    router = APIRouter(prefix="/ui", include_in_schema=False)

    @router.get("/login", response_class=HTMLResponse)
    async def login_page(request: Request, next: Next = None, notice: Next = None) -> HTMLResponse:
        return page(request, "login.html", next=safe_next(next), notice=notice)

    @router.post("/login")
    async def login(request: Request, token: Annotated[str, Form(min_length=1, max_length=8192)],
                    next: Annotated[str, Form(max_length=500)] = "/ui") -> Response:
        """Checks the token as the API will on each request, then keeps it in the session cookie."""
        auth: Authenticator = request.app.state.auth
        token = token.strip()
        try:
            await auth.grants(token, datetime.now(UTC))
        except ApiProblem as problem:  # 401, or 503 while an identity provider's keys cannot be fetched
            return page(request, "login.html", next=safe_next(next), problem=problem.detail,
                        status_code=problem.status)
        answer = RedirectResponse(safe_next(next), status_code=303)
        answer.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="strict", path="/",
                          secure=request.url.scheme == "https")
        return answer

    @router.post("/logout")
    async def logout() -> RedirectResponse:
        answer = RedirectResponse(login_url(notice="signed out"), status_code=303)
        answer.delete_cookie(TOKEN_COOKIE, path="/")
        return answer

    return router


def redirect_to_login(app: FastAPI) -> None:
    """A dashboard page asked for without valid credentials (none, expired, revoked) leads to the
    login page, and back after it; the API's answer to everything else stays a 401 problem."""
    async def on_dashboard_problem(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiProblem)
        if request.method != "GET" or not _DASHBOARD_PAGE.match(request.url.path):
            return await on_problem(request, exc)
        if exc.status == 404 and "job_id" in request.path_params:  # another namespace's job: as any unknown one
            return page(request, "missing.html", what=f"job {request.path_params['job_id']}", back="/ui/jobs",
                        status_code=404)
        if exc.status != 401:
            return await on_problem(request, exc)
        had_cookie = TOKEN_COOKIE in request.cookies
        target = login_url(request.url.path + (f"?{request.url.query}" if request.url.query else ""),
                           "your session has ended: sign in again" if had_cookie else None)
        # htmx follows a redirect itself and would swap the login page into a fragment: it is told instead
        answer: Response = (Response(headers={"HX-Redirect": target}) if request.headers.get("hx-request")
                            else RedirectResponse(target, status_code=303))
        if had_cookie:
            answer.delete_cookie(TOKEN_COOKIE, path="/")
        return answer

    app.add_exception_handler(ApiProblem, on_dashboard_problem)

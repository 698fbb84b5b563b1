"""The permission each route asks for: declared once, here, for every operation of the app.

A route missing from this table is refused to everyone but an admin (deny by default);
``tests/unit/test_routes_access.py`` fails while an operation of the OpenAPI document is missing.
Routes added elsewhere (a dashboard's pages, say) add their line here, or take ``Caller``
(api/auth.py) and check ``caller.may(...)`` themselves.
"""

from __future__ import annotations

from jobstream.core.access import Permission

P = Permission
ROUTE_PERMISSIONS: dict[tuple[str, str], Permission] = {
    ("GET", "/healthz"): P.PUBLIC,
    ("GET", "/readyz"): P.PUBLIC,
    ("GET", "/metrics"): P.PUBLIC,
    ("GET", "/v1/metrics"): P.READ,  # the caller's namespace only
    ("POST", "/v1/jobs"): P.SUBMIT,
    ("POST", "/v1/jobs:batch"): P.SUBMIT,
    ("POST", "/v1/jobs:cancel"): P.OPERATE,
    ("POST", "/v1/jobs:bulk-cancel"): P.OPERATE,  # by filter (dry run included): as the dashboard's bulk actions
    ("POST", "/v1/jobs:bulk-retry"): P.OPERATE,
    ("POST", "/v1/dlq:redrive"): P.OPERATE,
    ("GET", "/v1/jobs"): P.READ,
    ("GET", "/v1/jobs/{job_id}"): P.READ,
    ("GET", "/v1/jobs/{job_id}:wait"): P.READ,
    ("PATCH", "/v1/jobs/{job_id}"): P.ACT,
    ("POST", "/v1/jobs/{job_id}/cancel"): P.ACT,
    ("POST", "/v1/jobs/{job_id}/retry"): P.ACT,
    ("POST", "/v1/jobs/{job_id}/pause"): P.ACT,
    ("POST", "/v1/jobs/{job_id}/resume"): P.ACT,
    ("POST", "/v1/jobs/{job_id}/clone"): P.SUBMIT,
    ("GET", "/v1/jobs/{job_id}/executions"): P.READ,
    ("GET", "/v1/jobs/{job_id}/events"): P.READ,
    ("GET", "/v1/dlq"): P.READ,
    ("POST", "/v1/dlq/{job_id}/redrive"): P.OPERATE,
    ("GET", "/v1/executions"): P.READ,
    ("GET", "/v1/executions/{execution_id}"): P.READ,
    ("GET", "/v1/executions/{execution_id}/logs"): P.READ,
    ("GET", "/v1/commands/{command_id}"): P.READ,
    ("GET", "/v1/workers"): P.READ,
    ("GET", "/v1/workers/{worker_id}"): P.READ,
    ("POST", "/v1/workers/register"): P.REGISTER,
    ("POST", "/v1/workers/{worker_id}/report-key"): P.REGISTER,  # what its reports are signed with
    ("POST", "/v1/workers/{worker_id}/drain"): P.OPERATE,
    ("GET", "/v1/templates"): P.READ,
    ("GET", "/v1/templates/{name}"): P.READ,
    ("POST", "/v1/templates"): P.ADMIN,  # templates are shared by every namespace
    ("POST", "/v1/templates/{name}:run"): P.SUBMIT,
    ("GET", "/v1/audit"): P.ADMIN,
    ("GET", "/v1/schedules:preview"): P.READ,
    ("GET", "/v1/secrets"): P.OPERATE,  # names and versions, never values
    ("PUT", "/v1/secrets/{name}"): P.OPERATE,
    ("DELETE", "/v1/secrets/{name}"): P.OPERATE,
    ("POST", "/v1/secrets:reveal"): P.REVEAL,  # values, to the worker an execution is leased to
    # The dashboard (ui/): its pages read; each action asks what its /v1 twin asks
    ("GET", "/"): P.PUBLIC,  # a redirect to /ui
    ("GET", "/ui/static"): P.PUBLIC,  # htmx, styles (a mount: documented here, never asked)
    ("GET", "/ui/login"): P.PUBLIC,
    ("POST", "/ui/login"): P.PUBLIC,
    ("POST", "/ui/logout"): P.PUBLIC,
    ("GET", "/ui"): P.READ,
    ("GET", "/ui/jobs"): P.READ,
    ("GET", "/ui/jobs/{job_id}"): P.READ,
    ("GET", "/ui/jobs/{job_id}/as-of"): P.READ,
    ("GET", "/ui/schedules"): P.READ,
    ("GET", "/ui/workers"): P.READ,
    ("GET", "/ui/dead-letters"): P.READ,
    ("GET", "/ui/bulk-{operation}"): P.READ,  # the dry run of a cancel, retry or redrive: nothing is sent
    ("GET", "/ui/live"): P.READ,
    ("GET", "/ui/executions/{execution_id}/logs"): P.READ,
    ("POST", "/ui/jobs/{job_id}/priority"): P.ACT,
    ("POST", "/ui/jobs/{job_id}/clone"): P.SUBMIT,
    ("POST", "/ui/jobs/{job_id}/{action}"): P.ACT,  # cancel, retry, pause, resume
    ("POST", "/ui/workers/{worker_id}/drain"): P.OPERATE,
    ("POST", "/ui/dead-letters/{job_id}/redrive"): P.OPERATE,
    ("POST", "/ui/bulk-{operation}"): P.OPERATE,
}


def route_permission(method: str, path: str) -> Permission:
    """What the operation ``method path`` (its path template) asks for; admin if undeclared."""
    return ROUTE_PERMISSIONS.get((method, path), Permission.ADMIN)

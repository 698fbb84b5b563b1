"""Roles, permissions and a caller's access to one job (core/access.py), and the route table that
declares every operation's permission (api/routes_access.py)."""

from __future__ import annotations

import pytest
from fastapi.routing import APIRoute
from starlette.routing import Mount

from jobstream.api import create_app
from jobstream.api.routes_access import ROUTE_PERMISSIONS, route_permission
from jobstream.config import Settings
from jobstream.core.access import Access, Permission, Principal, Role, acting_role, job_access, parse_grants

P = Permission


def test_each_role_is_granted_what_the_table_of_roles_says() -> None:
    granted = {role: {p for p in Permission if Principal("a", role, "ns").may(p)} for role in Role}
    assert granted[Role.VIEWER] == {P.PUBLIC, P.READ}
    assert granted[Role.SUBMITTER] == {P.PUBLIC, P.READ, P.SUBMIT, P.ACT}
    assert granted[Role.OPERATOR] == {P.PUBLIC, P.READ, P.SUBMIT, P.ACT, P.OPERATE}
    assert granted[Role.ADMIN] == set(Permission)
    assert granted[Role.WORKER] == {P.PUBLIC, P.REGISTER, P.REVEAL}


@pytest.mark.parametrize("role", list(Role))
def test_another_namespaces_job_is_hidden_from_every_role(role: Role) -> None:
    assert job_access(Principal("key:a", role, "acme"), P.READ, "default", "key:a") is Access.HIDDEN


def test_a_submitter_changes_only_the_jobs_it_submitted_and_reads_every_one() -> None:
    submitter = Principal("key:a", Role.SUBMITTER, "acme")
    assert job_access(submitter, P.ACT, "acme", "key:a") is Access.ALLOWED
    assert job_access(submitter, P.ACT, "acme", "key:b") is Access.FORBIDDEN
    assert job_access(submitter, P.READ, "acme", "key:b") is Access.ALLOWED
    assert job_access(Principal("key:o", Role.OPERATOR, "acme"), P.ACT, "acme", "key:b") is Access.ALLOWED


def test_a_caller_bound_to_a_worker_acts_as_that_worker_only_and_an_unbound_one_as_any() -> None:
    bound = Principal("key:w", Role.WORKER, "acme", worker_id="w-1")
    assert bound.may_act_as_worker("w-1") and not bound.may_act_as_worker("w-2")
    assert Principal("key:u", Role.WORKER, "acme").may_act_as_worker("w-2")


def test_the_acting_namespace_is_the_one_asked_for_among_the_grants() -> None:
    grants = {"acme": Role.OPERATOR, "beta": Role.VIEWER}
    assert acting_role(grants, None) == ("acme", Role.OPERATOR)
    assert acting_role(grants, "beta") == ("beta", Role.VIEWER)
    assert acting_role(grants, "gamma") is None
    assert acting_role({"default": Role.ADMIN}, "gamma") == ("gamma", Role.ADMIN)  # an admin acts anywhere
    assert acting_role({}, None) is None


def test_namespace_role_claims_parse_or_are_refused_whole() -> None:
    assert parse_grants(["acme:operator", "team-a:viewer"]) == {"acme": Role.OPERATOR, "team-a": Role.VIEWER}
    assert parse_grants(["team:a:viewer"]) is None  # not a namespace name
    assert parse_grants(["acme:root"]) is None
    assert parse_grants(["operator"]) is None


def test_every_operation_of_the_openapi_document_declares_its_permission() -> None:
    document = create_app(Settings()).openapi()
    operations = {(method.upper(), path) for path, ops in document["paths"].items() for method in ops}
    assert operations - set(ROUTE_PERMISSIONS) == set()
    for path, ops in document["paths"].items():
        for method, operation in ops.items():
            assert operation["x-permission"] == route_permission(method.upper(), path)
            if operation["x-permission"] != P.PUBLIC:
                assert {"401", "403"} <= set(operation["responses"])


def test_an_undeclared_route_is_for_admins_only() -> None:
    assert route_permission("POST", "/v1/something-new") is P.ADMIN


def test_every_route_of_the_app_declares_its_permission_the_dashboards_too() -> None:
    # The dashboard's routes are not in the OpenAPI document; the table must name them all the same
    app = create_app(Settings())
    routes = {(method, route.path) for route in app.routes if isinstance(route, APIRoute)
              for method in route.methods or ()}
    undeclared = {r for r in routes - set(ROUTE_PERMISSIONS) if not r[1].startswith(("/docs", "/redoc", "/openapi"))}
    assert undeclared == set()
    assert any(isinstance(route, Mount) and route.path == "/ui/static" for route in app.routes)
    assert route_permission("GET", "/ui/static") is P.PUBLIC


@pytest.mark.parametrize(("page", "api"), [
    (("POST", "/ui/jobs/{job_id}/{action}"), ("POST", "/v1/jobs/{job_id}/cancel")),
    (("POST", "/ui/jobs/{job_id}/priority"), ("PATCH", "/v1/jobs/{job_id}")),
    (("POST", "/ui/jobs/{job_id}/clone"), ("POST", "/v1/jobs/{job_id}/clone")),
    (("POST", "/ui/dead-letters/{job_id}/redrive"), ("POST", "/v1/dlq/{job_id}/redrive")),
    (("POST", "/ui/workers/{worker_id}/drain"), ("POST", "/v1/workers/{worker_id}/drain")),
    (("POST", "/ui/bulk-{operation}"), ("POST", "/v1/jobs:cancel")),  # cancel, retry or redrive: operate
    (("POST", "/ui/bulk-{operation}"), ("POST", "/v1/dlq/{job_id}/redrive")),
    (("POST", "/ui/bulk-{operation}"), ("POST", "/v1/jobs:bulk-cancel")),  # the same operations by filter
    (("POST", "/ui/bulk-{operation}"), ("POST", "/v1/jobs:bulk-retry")),
    (("POST", "/ui/bulk-{operation}"), ("POST", "/v1/dlq:redrive")),
    (("GET", "/ui/jobs/{job_id}"), ("GET", "/v1/jobs/{job_id}")),
])
def test_a_dashboard_action_asks_what_its_api_twin_asks(page: tuple[str, str], api: tuple[str, str]) -> None:
    assert route_permission(*page) is route_permission(*api)

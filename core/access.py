"""Who may do what: roles, the permissions a route asks for, and a caller's access to one job.

Pure: the API's edge (api/auth.py) authenticates a caller into a ``Principal`` and asks these
functions; nothing here reads a clock, a token or a database.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from jobstream.schemas import valid_namespace


class Role(StrEnum):
    """A caller's role within one namespace (Airflow's viewer/user/op/admin, plus a worker's)."""

    VIEWER = "viewer"  # reads
    SUBMITTER = "submitter"  # submits; cancels, retries, pauses and patches only the jobs it submitted
    OPERATOR = "operator"  # every job, schedule, dead letter and worker action
    ADMIN = "admin"  # keys, the audit trail, every namespace
    WORKER = "worker"  # registers and reports as a worker


class Permission(StrEnum):
    """What a route asks of its caller (each route's is declared once, in api/routes_access.py)."""

    PUBLIC = "public"  # health, readiness, the metrics scrape: no credentials
    READ = "read"  # lists and gets within the namespace
    SUBMIT = "submit"  # new jobs (submit, batch, clone, run a template)
    ACT = "act"  # change one job: a submitter only its own
    OPERATE = "operate"  # any job of the namespace, in bulk, dead letters, workers
    REGISTER = "register"  # a worker's registration
    REVEAL = "reveal"  # a worker reads the secrets of an execution leased to it
    ADMIN = "admin"  # keys, the audit trail, shared templates


GRANTS: dict[Role, frozenset[Permission]] = {
    Role.VIEWER: frozenset({Permission.PUBLIC, Permission.READ}),
    Role.SUBMITTER: frozenset({Permission.PUBLIC, Permission.READ, Permission.SUBMIT, Permission.ACT}),
    Role.OPERATOR: frozenset({Permission.PUBLIC, Permission.READ, Permission.SUBMIT, Permission.ACT,
                              Permission.OPERATE}),
    Role.ADMIN: frozenset(Permission),
    Role.WORKER: frozenset({Permission.PUBLIC, Permission.REGISTER, Permission.REVEAL}),
}


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller acting in one namespace: who (``actor``: ``key:<id>`` or
    ``jwt:<subject>``), with which role, in which namespace, from which address; for a worker key
    bound to one worker id, that id (``worker_id``)."""

    actor: str
    role: Role
    namespace: str
    address: str | None = None
    worker_id: str | None = None

    def may(self, permission: Permission) -> bool:
        return permission in GRANTS[self.role]

    def may_act_as_worker(self, worker_id: str) -> bool:
        """Whether the caller may register, or ask for secrets, as ``worker_id``: a bound key only
        as its own worker; an unbound caller (an unbound worker key, an admin, a JWT) as any."""
        return self.worker_id is None or self.worker_id == worker_id


class Access(StrEnum):
    """What a caller may do with one existing job."""

    ALLOWED = "allowed"
    FORBIDDEN = "forbidden"  # 403: the job is visible but not the caller's to change
    HIDDEN = "hidden"  # 404: another namespace's job; its existence is not revealed


def job_access(principal: Principal, permission: Permission, namespace: str, submitted_by: str | None) -> Access:
    """``principal``'s access to a job of ``namespace`` submitted by ``submitted_by``, for a route
    asking ``permission`` (which the caller's role already grants)."""
    if namespace != principal.namespace:
        return Access.HIDDEN
    if permission is Permission.ACT and principal.role is Role.SUBMITTER and submitted_by != principal.actor:
        return Access.FORBIDDEN
    return Access.ALLOWED


def acting_role(grants: dict[str, Role], asked: str | None) -> tuple[str, Role] | None:
    """The namespace a caller acts in and its role there: the one it asked for (an admin of any
    namespace may ask for any), else its only or first grant; None if it may not act there."""
    if not grants:
        return None
    if asked is None:
        namespace = next(iter(grants))
        return namespace, grants[namespace]
    if asked in grants:
        return asked, grants[asked]
    if Role.ADMIN in grants.values():
        return asked, Role.ADMIN
    return None


def parse_grants(claims: list[str]) -> dict[str, Role] | None:
    """``["acme:operator", "default:viewer"]`` (Temporal's namespace:role claims) as grants; None
    if one of them does not parse."""
    grants: dict[str, Role] = {}
    for claim in claims:
        namespace, _, role = claim.rpartition(":")
        if not valid_namespace(namespace) or role not in Role.__members__.values():
            return None
        grants[namespace] = Role(role)
    return grants

"""The audit trail's rules: which requests are audited, what an entry says, and that the projector
folds each entry once."""

from __future__ import annotations

from types import SimpleNamespace

from jobstream.api.audit import audit_entry, audited
from jobstream.core.access import Principal, Role
from jobstream.projections.batch import Batch
from tests.unit.builders import T0


def test_changes_and_refusals_are_audited_successful_reads_are_not() -> None:
    assert audited("POST", 201) and audited("PATCH", 409) and audited("POST", 422)
    assert audited("GET", 401) and audited("GET", 403) and audited("GET", 429)
    assert not audited("GET", 200) and not audited("GET", 404)


def test_an_entry_names_the_caller_the_operation_and_its_target() -> None:
    scope = {"method": "POST", "path": "/v1/jobs/j1/cancel", "client": ("10.0.0.7", 5000),
             "route": SimpleNamespace(name="cancel_job", path="/v1/jobs/{job_id}/cancel"),
             "path_params": {"job_id": "j1"}, "state": {"principal": Principal("key:k", Role.OPERATOR, "acme",
                                                                              "10.0.0.7")}}
    entry = audit_entry(scope, 202, T0)
    assert (entry.actor, entry.role, entry.namespace, entry.address) == ("key:k", "operator", "acme", "10.0.0.7")
    assert (entry.action, entry.route, entry.target, entry.status) == ("cancel_job", "/v1/jobs/{job_id}/cancel",
                                                                       "j1", 202)


def test_an_unauthenticated_refusal_on_an_unknown_path_still_has_an_entry() -> None:
    entry = audit_entry({"method": "POST", "path": "/nope", "client": ("127.0.0.1", 1)}, 401, T0, "no credentials")
    assert (entry.actor, entry.role, entry.action, entry.route, entry.address, entry.detail) == (
        "unauthenticated", None, "unknown", "/nope", "127.0.0.1", "no credentials")


def test_the_projector_folds_an_entry_once() -> None:
    entry = audit_entry({"method": "POST", "path": "/v1/jobs"}, 201, T0)
    batch = Batch()
    assert batch.apply(entry) is True
    assert batch.apply(entry) is False
    assert list(batch.audit) == [entry.entry_id] and batch.audit[entry.entry_id].status == 201

"""Hostile HTTP input: schemathesis fuzzes every operation of the running API from its own
OpenAPI document. Nothing may answer 5xx, every 4xx is a problem+json naming the field at fault,
and every answer conforms to the document."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, seed, settings
from schemathesis import Case, GenerationMode, Response
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from jobstream.api.problems import PROBLEM_JSON
from jobstream.config import Settings
from jobstream.infra.process import free_port
from jobstream.infra.topics import Topics
from jobstream.secrets_admin import ensure_kek
from tests.credentials import jwt_for
from tests.integration.harness import ServiceProcess, api_stack

EXAMPLES_PER_MODE = 15  # per operation and generation mode (31 operations)
BUDGET_S = 130.0  # the whole fuzz, on a busy 2-core machine (every request is authorised, jobs by a look-up)
ADMIN = {"Authorization": f"Bearer {jwt_for('default:admin')}"}
FIELD_STATUSES = {400, 422}  # answers about a part of the request; 404/409/413/503 are about the resource or service


@schemathesis.check
def problem_names_the_field(ctx: schemathesis.CheckContext, response: Response, case: Case) -> bool | None:
    """Every 4xx is problem+json with a status and a title; a validation answer names each field."""
    if not 400 <= response.status_code < 500:
        return None
    content_type = response.headers.get("content-type", [""])[0]
    assert content_type.startswith(PROBLEM_JSON), f"{response.status_code} answered as {content_type!r}"
    body = response.json()
    assert body.get("status") == response.status_code and body.get("title"), body
    if response.status_code == 422:
        errors = body.get("errors") or []
        assert errors and all(error.get("field") and error.get("detail") for error in errors), body
    return True


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          negative_data_rejection, problem_names_the_field]


@pytest.fixture
def api_url(test_settings: Settings, topics_ready: Topics, services: dict[str, ServiceProcess], tmp_path: Path,
            unique_name: str) -> Iterator[str]:
    """The API with what makes its writes readable (state processor, projector); no worker runs
    what the fuzz submits."""
    settings = test_settings.with_(api_url=f"http://127.0.0.1:{free_port()}")
    ensure_kek(settings)  # as `jobstream run` does: setting a secret needs it
    with api_stack(settings, services, tmp_path, unique_name, ["state-processor", "projector", "api"]):
        yield settings.api_url


def fuzz(operation: schemathesis.APIOperation, mode: GenerationMode, base_url: str) -> None:
    @seed(11)
    @settings(max_examples=EXAMPLES_PER_MODE, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Case) -> None:
        case.call_and_validate(base_url=base_url, checks=CHECKS, timeout=30, headers=ADMIN)

    run()


def modes(operation: schemathesis.APIOperation) -> list[GenerationMode]:
    """Invalid requests need a query or a body to break: any path segment is a valid id."""
    negatable = bool(list(operation.query)) or bool(operation.body)
    return [GenerationMode.POSITIVE, GenerationMode.NEGATIVE] if negatable else [GenerationMode.POSITIVE]


def test_every_operation_survives_fuzzing(api_url: str) -> None:
    # Given the running API's own document
    schema = schemathesis.openapi.from_url(f"{api_url}/openapi.json")
    results = list(schema.get_all_operations())
    operations = [result.ok() for result in results if isinstance(result, Ok)]
    assert len(operations) == len(results) >= 20, results
    started, failures = time.monotonic(), []
    # When each operation gets valid requests, and invalid ones where it takes a query or a body
    for operation in operations:
        for mode in modes(operation):
            try:
                fuzz(operation, mode, api_url)
            except (Exception, BaseExceptionGroup) as error:  # noqa: BLE001 - every operation's failures, then report
                failures.append(f"{operation.label} [{mode}]: {error}")
    elapsed = time.monotonic() - started
    # Then none failed a check, within the budget, and the API still serves
    assert not failures, "\n\n".join(failures)
    assert elapsed < BUDGET_S, f"the fuzz took {elapsed:.0f}s"
    assert httpx.get(f"{api_url}/readyz").status_code == 200

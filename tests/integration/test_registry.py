"""A real schema registry (Apicurio's Confluent-compatible API): the registry contract the unit
tests' stub is held to, and the main path of the whole stack on Confluent's wire format."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from jobstream.config import Settings
from tests.integration.harness import TopicReader, submit_job, wait_terminal
from tests.registry_contract import CONTRACT


@pytest.fixture
def test_settings(infra_settings: Settings, unique_name: str, schema_registry_url: str) -> Settings:
    """This module's processes speak Confluent's wire format through the real registry."""
    return infra_settings.with_(topic_prefix=f"jobstream-{unique_name}", partitions=3,
                                schema_registry_url=schema_registry_url)


@pytest.mark.parametrize("check", CONTRACT, ids=lambda check: check.__name__)
def test_the_real_registry_keeps_the_contract(check: Callable[[str], None], schema_registry_url: str) -> None:
    check(schema_registry_url)


def test_main_path_on_the_real_registry(stack: httpx.Client, test_settings: Settings) -> None:
    # Given the whole stack on Confluent's wire format, when jobs are submitted over HTTP
    ok = [submit_job(stack, ["echo", f"job {n}"])["job_id"] for n in range(10)]
    failing = submit_job(stack, ["sh", "-c", "exit 3"], name="exits-3")["job_id"]

    # Then they finish as on single-object encoding
    jobs = wait_terminal(stack, [*ok, failing], timeout_s=120)
    assert {jobs[j]["status"] for j in ok} == {"completed"} and jobs[failing]["exit_code"] == 3
    types = [e["type"] for e in stack.get(f"/v1/jobs/{ok[0]}/events").json()["items"]]
    assert types == ["JobSubmitted", "JobQueued", "JobAssigned", "JobStarted", "JobCompleted"]

    # And the events topic holds Confluent frames whose schema ids the registry knows
    reader = TopicReader(test_settings, f"{test_settings.topic_prefix}.events")
    try:
        reader.wait_for(lambda records: len(records) >= 5 * 11, 60, "every job's events on the topic")
    finally:
        reader.close()
    subjects = httpx.get(f"{test_settings.schema_registry_url}/subjects").json()
    assert f"{test_settings.topic_prefix}.events-jobstream.events.JobCompleted" in subjects

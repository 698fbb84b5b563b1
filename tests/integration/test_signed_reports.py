"""Worker reports bound to their worker id, against the whole stack: with a reports secret, the
stack's worker signs its reports with the key the API hands it, and the state processor sets
aside a report for that worker which is unsigned or signed with another worker's key, while the
job runs on and completes on the real worker's own report."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import httpx
from confluent_kafka import Producer

from jobstream.config import Settings
from jobstream.core.access import Role
from jobstream.core.report_keys import mac_headers, worker_report_key
from jobstream.infra.process import free_port
from jobstream.infra.topics import Topics
from jobstream.keys_admin import create_key
from jobstream.report_secret import ensure_reports_secret, load_reports_secret
from jobstream.schemas import Outcome, ReportFinished, make_codec
from jobstream.streams.kafka_io import command_envelope, partition_for, producer_config
from tests.integration.conftest import active_workers
from tests.integration.harness import ServiceProcess, api_stack, poll, submit_job, wait_terminal


def _running(stack: httpx.Client, job_id: str) -> dict[str, Any] | None:
    items = stack.get(f"/v1/jobs/{job_id}/executions").json()["items"]
    return items[0] if items and items[0]["status"] == "running" else None


def _result(stack: httpx.Client, command_id: str) -> dict[str, Any] | None:
    answer = stack.get(f"/v1/commands/{command_id}")
    return answer.json() if answer.status_code == 200 else None


def _forge(settings: Settings, execution: dict[str, Any], name: str, key: bytes | None) -> str:
    """A finish of ``execution`` in its worker's name, signed with ``key`` (None: unsigned); its command id."""
    job_id, execution_id = execution["job_id"], execution["execution_id"]
    envelope = command_envelope(ReportFinished, job_id, "worker:forger", command_id=f"{execution_id}:{name}")
    report = ReportFinished(envelope=envelope, execution_id=execution_id, attempt=execution["attempt"],
                            worker_id=execution["worker_id"], outcome=Outcome.FAILED, exit_code=1, error="forged")
    topic = Topics(settings.topic_prefix).commands
    value = make_codec(None).encode(report, topic)
    producer = Producer(producer_config(settings))
    producer.produce(topic, value, job_id.encode(), partition_for(job_id, settings.partitions),
                     headers=mac_headers(key, value) if key is not None else None)
    assert producer.flush(30) == 0
    return envelope.command_id


def test_a_report_is_believed_only_when_signed_by_the_worker_it_names(
        test_settings: Settings, topics_ready: Topics, services: dict[str, ServiceProcess], tmp_path: Path,
        unique_name: str) -> None:
    secret_file = tmp_path / "reports.secret"
    ensure_reports_secret(secret_file)
    settings = test_settings.with_(api_url=f"http://127.0.0.1:{free_port()}", reports_secret_file=secret_file,
                                   sign_reports=True)
    secret = load_reports_secret(settings)
    assert secret is not None
    names = ["state-processor", "dispatcher", "timers", "projector", "logs-projector", "api", "worker"]
    with api_stack(settings, services, tmp_path, unique_name, names) as stack:
        poll(lambda: active_workers(stack), 90, "the worker to be seen active")
        # Given a job running on the stack's worker until a file appears
        flag = tmp_path / f"go-{uuid.uuid4().hex[:6]}"
        job_id = submit_job(stack, ["sh", "-c", f"while [ ! -e {flag} ]; do sleep 0.1; done"])["job_id"]
        execution = poll(lambda: _running(stack, job_id), 90, "the job to run")

        # When its failure is forged in its worker's name: unsigned, then signed with another worker's key
        unsigned = _forge(settings, execution, "forged-unsigned", None)
        other = _forge(settings, execution, "forged-other", worker_report_key(secret, "w-other"))

        # Then both are set aside, naming why, and the job runs on
        for command_id, why in ((unsigned, "without its signature"), (other, "not signed with that worker's key")):
            result = poll(partial(_result, stack, command_id), 60, f"{command_id} to be set aside")
            assert result["status"] == "poisoned" and why in result["reason"], result
        assert _running(stack, job_id) is not None
        # And the real worker's own signed finish completes it
        flag.touch()
        assert wait_terminal(stack, [job_id], 90)[job_id]["status"] == "completed"

        # And the report key is handed only to a credential that may act as the worker
        worker_id = execution["worker_id"]
        answers = {bound_to: _ask_key(settings, worker_id, bound_to) for bound_to in (worker_id, "w-other")}
        assert answers[worker_id].status_code == 200, answers[worker_id].text
        assert base64.b64decode(answers[worker_id].json()["key"]) == worker_report_key(secret, worker_id)
        assert answers["w-other"].status_code == 403, answers["w-other"].text


def _ask_key(settings: Settings, worker_id: str, bound_to: str) -> httpx.Response:
    """POST /v1/workers/{worker_id}/report-key with a worker key bound to ``bound_to``."""
    token, _ = create_key(settings, "default", Role.WORKER, datetime.now(UTC), worker_id=bound_to)
    with httpx.Client(base_url=settings.api_url, headers={"Authorization": f"Bearer {token.token}"},
                      timeout=30) as caller:
        def known() -> httpx.Response | None:
            answer = caller.post(f"/v1/workers/{worker_id}/report-key")
            return answer if answer.status_code != 401 else None
        return poll(known, 30, "the API to know the new key")

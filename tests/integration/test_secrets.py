"""Secrets end to end (the whole stack, real Kafka and Postgres): a job that refers to a secret
gets its value, and the value is found in no topic, no table, no process's log and no API answer;
shredding the namespace's data keys leaves the old record unreadable."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from confluent_kafka.admin import AdminClient
from psycopg import sql
from typer.testing import CliRunner

from jobstream.cli import app as cli_app
from jobstream.config import Settings
from jobstream.core.secret_book import open_sealed
from jobstream.core.secrets_crypto import SecretUnreadable, unwrap_dek
from jobstream.infra.topics import Topics
from jobstream.keys_admin import read_to_end
from jobstream.schemas import DataKeyCreated, SecretSet
from jobstream.secrets_admin import ensure_kek, load_keks, read_book, rotate_kek, shred_namespace
from jobstream.streams.kafka_io import consumer_config
from tests.credentials import jwt_for
from tests.integration.harness import ServiceProcess, poll, wait_terminal

SCRIPT = 'echo "pw=$DB_PASSWORD"; echo "$DB_PASSWORD" >&2; printf \'{"pw": "%s"}\' "$DB_PASSWORD" > /dev/null'


class Answers:
    """Every API answer the test got, to search them all at the end."""

    def __init__(self, client: httpx.Client) -> None:
        self.client, self.texts = client, []  # type: ignore[var-annotated]

    def __call__(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = self.client.request(method, path, **kwargs)
        self.texts.append(response.text)
        return response


def test_a_secret_reaches_its_job_masked_is_stored_nowhere_in_clear_and_shredding_seals_it(
        stack: httpx.Client, test_settings: Settings, services: dict[str, ServiceProcess], unique_name: str) -> None:
    secret = f"s3cr3t-{uuid.uuid4().hex}"
    ensure_kek(test_settings)  # as `jobstream run` does on first start; the API reads it when first needed
    api = Answers(stack)
    # Given a secret set through the API
    answer = api("PUT", "/v1/secrets/db-password", json={"value": secret})
    assert answer.status_code == 200, answer.text
    assert answer.json()["version"] == 1
    assert [s["name"] for s in api("GET", "/v1/secrets").json()["items"]] == ["db-password"]
    # When a job refers to it and prints it
    job = api("POST", "/v1/jobs", json={"name": "uses-secret", "task": {
        "type": "shell", "argv": ["/bin/sh", "-c", SCRIPT], "env_from": {"DB_PASSWORD": {"secret": "db-password"}}}})
    assert job.status_code == 201, job.text
    job_id = job.json()["job_id"]
    # Then it ran with the value, and what it printed left the worker masked
    assert wait_terminal(stack, [job_id], 120)[job_id]["status"] == "completed"
    execution = api("GET", f"/v1/jobs/{job_id}/executions").json()["items"][0]
    assert execution["stdout_tail"] == "pw=***\n" and execution["stderr_tail"] == "***\n"

    def logs() -> str | None:
        page = api("GET", f"/v1/executions/{execution['execution_id']}/logs").json()
        return "".join(c["data"] for c in page["items"]) if page["complete"] else None
    assert "pw=***" in poll(logs, 60, "the execution's log")
    # and its values are for the worker it runs on, while it runs: not after, not elsewhere
    reveal = {"execution_id": execution["execution_id"], "worker_id": execution["worker_id"]}
    assert api("POST", "/v1/secrets:reveal", json=reveal).status_code == 409  # it has finished
    with httpx.Client(base_url=str(stack.base_url), timeout=30,
                      headers={"Authorization": f"Bearer {jwt_for('acme:worker')}"}) as elsewhere:
        answer = elsewhere.post("/v1/secrets:reveal", json=reveal)
        api.texts.append(answer.text)
        assert answer.status_code == 404  # a worker of another namespace: the execution does not exist
    api("GET", f"/v1/jobs/{job_id}"), api("GET", f"/v1/jobs/{job_id}/events"), api("GET", "/v1/audit")

    # Given another namespace's secret, set by an operator at the broker
    cli = CliRunner().invoke(cli_app, ["secrets", "set", "api-token", "--namespace", "acme"], input=secret,
                             env=test_settings.as_env())
    assert cli.exit_code == 0 and secret not in cli.output, cli.output
    listed = CliRunner().invoke(cli_app, ["secrets", "ls", "--namespace", "acme", "-o", "json"],
                                env=test_settings.as_env())
    assert [s["name"] for s in json.loads(listed.stdout)] == ["api-token"] and secret not in listed.stdout
    # When the default namespace's data keys are shredded
    shred_namespace(test_settings, "default", datetime.now(UTC))
    # Then the old SecretSet record, still in the topic until compaction, no longer opens
    records = read_to_end(test_settings, Topics(test_settings.topic_prefix).secrets)
    old = next(r for r in records if isinstance(r, SecretSet) and r.name == "db-password")
    book = read_book(test_settings)
    with pytest.raises(SecretUnreadable):
        open_sealed(load_keks(test_settings), book.deks.get(("default", old.dek_id)), old)
    # and once the KEK is rotated, not even the wrapped key still in the log until compaction unwraps
    rotate_kek(test_settings, datetime.now(UTC))
    for wrapped in (r for r in records if isinstance(r, DataKeyCreated) and r.namespace == "default"):
        with pytest.raises(SecretUnreadable):
            unwrap_dek(load_keks(test_settings), wrapped.kek_id, wrapped.namespace, wrapped.dek_id, wrapped.wrapped)
    # and a job that refers to it fails, saying why
    again = api("POST", "/v1/jobs", json={"name": "after-shred", "task": {
        "type": "shell", "argv": ["true"], "env_from": {"DB_PASSWORD": {"secret": "db-password"}}}}).json()
    failed = wait_terminal(stack, [again["job_id"]], 120)[again["job_id"]]
    assert failed["status"] == "failed", failed
    error = api("GET", f"/v1/jobs/{again['job_id']}/executions").json()["items"][0]["error"]
    assert "410" in error and "deleted" in error
    # while the other namespace's secret, its data key rewrapped under the new KEK, still reaches its job
    task = {"type": "shell", "argv": ["/bin/sh", "-c", 'echo "token=$TOKEN"'],
            "env_from": {"TOKEN": {"secret": "api-token"}}}
    with httpx.Client(base_url=str(stack.base_url), timeout=30,
                      headers={**stack.headers, "X-Jobstream-Namespace": "acme"}) as acme:
        acme_api = Answers(acme)
        acme_id = acme_api("POST", "/v1/jobs", json={"name": "acme", "task": task}).json()["job_id"]
        assert wait_terminal(acme, [acme_id], 120)[acme_id]["status"] == "completed"
        assert acme_api("GET", f"/v1/jobs/{acme_id}/executions").json()["items"][0]["stdout_tail"] == "token=***\n"
    # And at the end of it all, the value is in no topic, no table, no process's log and no answer
    needle = secret.encode()
    assert [t for t, data in topics_bytes(test_settings).items() if needle in data] == []
    assert [t for t, text in tables_text(test_settings, unique_name).items() if secret in text] == []
    assert [n for n, p in services.items() if needle in Path(p.log_path).read_bytes()] == []
    assert [t for t in api.texts + acme_api.texts if secret in t] == []


def topics_bytes(settings: Settings) -> dict[str, bytes]:
    """Every record's key and value of every topic of the test, raw."""
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap})
    metadata = admin.list_topics(timeout=30).topics
    consumer = Consumer(consumer_config(settings, f"grep-{uuid.uuid4().hex[:8]}"))
    try:
        found = {name: _topic_bytes(consumer, name, len(metadata[name].partitions))
                 for name in metadata if settings.topic_prefix in name}
    finally:
        consumer.close()
    assert Topics(settings.topic_prefix).secrets in found and Topics(settings.topic_prefix).logs in found
    return found


def _topic_bytes(consumer: Consumer, name: str, count: int) -> bytes:
    """One topic from its start to its end now (transaction markers count in the end offsets, not
    in the records: the consumer's position says when it is through)."""
    partitions = [TopicPartition(name, p, OFFSET_BEGINNING) for p in range(count)]
    ends = [consumer.get_watermark_offsets(p, timeout=10)[1] for p in partitions]
    consumer.assign(partitions)
    data = bytearray()

    def through() -> bool:
        for message in consumer.consume(500, 0.5):
            if message.error() is None:
                data.extend((message.key() or b"") + (message.value() or b""))
        positions = consumer.position([TopicPartition(name, p) for p in range(count)])
        return all(end == 0 or p.offset >= end for p, end in zip(positions, ends, strict=True))

    poll(through, 60, f"{name} read to its end", interval_s=0)
    return bytes(data)


def tables_text(settings: Settings, schema: str) -> dict[str, str]:
    """Every row of every table of the test's read model, as text."""
    with psycopg.connect(settings.database_url) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", [schema]).fetchall()]
        assert {"jobs", "executions", "execution_logs"} <= set(tables)
        return {t: "\n".join(str(r[0]) for r in conn.execute(
            sql.SQL("SELECT CAST(t AS text) FROM {}.{} t").format(sql.Identifier(schema), sql.Identifier(t))))
            for t in tables}

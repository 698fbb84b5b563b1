"""The API served by uvicorn over real sockets, driven by the CLI's client commands."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from importlib import resources

import psycopg
import pytest
import uvicorn
from psycopg import sql
from typer.testing import CliRunner

from jobstream.api import create_app
from jobstream.client import make_jobs_app
from jobstream.clock import new_job_id
from jobstream.config import Settings
from jobstream.infra.process import free_port
from jobstream.infra.topics import Topics, ensure_topics
from tests.credentials import jwt_for


@pytest.fixture
def api_url(test_settings: Settings, database_url: str, unique_name: str) -> Iterator[str]:
    ddl = resources.files("jobstream.projections").joinpath("sql/schema.sql").read_text()
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(unique_name)))
        conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(unique_name)))
        conn.execute(ddl)  # type: ignore[arg-type]
        conn.execute("INSERT INTO jobs (job_id, seq, name, queue, priority, status, updated_at)"
                     " VALUES (%s, 1, 'served', 'default', 5, 'queued', now())", (new_job_id(),))
    ensure_topics(test_settings.kafka_bootstrap, Topics(test_settings.topic_prefix).specs(test_settings.partitions))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(test_settings, schema=unique_name), host="127.0.0.1",
                                           port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)  # polling a flag with a deadline, not sleeping as synchronisation
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(unique_name)))


def test_cli_commands_against_a_served_api(api_url: str) -> None:
    runner, app = CliRunner(), make_jobs_app()
    env = {"JOBSTREAM_API_URL": api_url, "JOBSTREAM_TOKEN": jwt_for("default:admin")}

    listed = runner.invoke(app, ["ls", "-o", "json"], env=env)
    assert listed.exit_code == 0, listed.output
    [job] = json.loads(listed.stdout)["items"]
    assert job["name"] == "served"

    shown = runner.invoke(app, ["get", job["job_id"]], env=env)
    assert shown.exit_code == 0 and "served" in shown.stdout and "queued" in shown.stdout

    missing = runner.invoke(app, ["get", new_job_id()], env=env)
    assert missing.exit_code == 1 and "404 Not Found" in missing.stderr

    invalid = runner.invoke(app, ["submit", "--priority", "11", "--", "true"], env=env)
    assert invalid.exit_code == 1 and "priority:" in invalid.stderr

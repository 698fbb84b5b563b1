"""``jobstream connect ...``: install the shipped Kafka Connect sink config on a Connect worker.

The config (``infra/connect/job-events-to-postgres.json``) is a template: ``${name}``-style
placeholders filled from the settings (topic, database, registry), so the file a user copies for
another sink keeps one shape.
"""

from __future__ import annotations

import json
from string import Template
from typing import Any
from urllib.parse import urlsplit

import httpx
import typer

from jobstream.config import Settings
from jobstream.infra.connect import CONNECTOR_CONFIG
from jobstream.infra.registry import CCOMPAT_PATH
from jobstream.infra.topics import Topics
from jobstream.streams.kafka_io import ensure_specs

DEFAULT_TABLE = "analytics.job_events"
APICURIO_V2_PATH = "/apis/registry/v2"  # what Apicurio's 2.x converter speaks

app = typer.Typer(no_args_is_help=True, help="Kafka Connect: send job events to a warehouse.")


def jdbc_target(database_url: str) -> dict[str, str]:
    """``postgresql://user:password@host:port/db`` as a JDBC url, user and password."""
    parts = urlsplit(database_url)
    if parts.scheme not in ("postgresql", "postgres") or not parts.hostname:
        raise ValueError(f"not a postgresql:// URL: {database_url!r}")
    port = f":{parts.port}" if parts.port else ""
    return {"jdbc_url": f"jdbc:postgresql://{parts.hostname}{port}{parts.path or '/'}",
            "jdbc_user": parts.username or "", "jdbc_password": parts.password or ""}


def registry_api_url(schema_registry_url: str | None) -> str:
    """Apicurio's own API beside the Confluent-compatible one that JOBSTREAM_SCHEMA_REGISTRY_URL names."""
    if not schema_registry_url or not schema_registry_url.rstrip("/").endswith(CCOMPAT_PATH):
        raise ValueError(f"JOBSTREAM_SCHEMA_REGISTRY_URL must name an Apicurio registry's {CCOMPAT_PATH} "
                         f"(the sink's Avro converter reads the registry), got {schema_registry_url!r}")
    return schema_registry_url.rstrip("/").removesuffix(CCOMPAT_PATH) + APICURIO_V2_PATH


def render_connector(template: str, settings: Settings, *, name: str, table: str) -> dict[str, Any]:
    """The connector's name and config, its placeholders filled (an unknown one is an error)."""
    values = {"name": name, "table": table, "topic": Topics(settings.topic_prefix).analytics_job_events,
              "registry_api_url": registry_api_url(settings.schema_registry_url),
              **jdbc_target(settings.database_url)}
    rendered: dict[str, Any] = json.loads(Template(template).substitute(values))
    return rendered


def deploy(settings: Settings, connect_url: str, *, name: str, table: str,
           template: str | None = None) -> dict[str, Any]:
    """Create the analytics topics and the table's schema, then create or update the connector (PUT
    is idempotent), so that it may be deployed before or after the analytics projector starts."""
    import psycopg

    connector = render_connector(template or CONNECTOR_CONFIG.read_text(), settings, name=name, table=table)
    ensure_specs(settings, Topics(settings.topic_prefix).analytics_specs(settings.partitions))
    schema = table.split(".", 1)[0] if "." in table else None
    if schema:
        with psycopg.connect(settings.database_url, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    response = httpx.put(f"{connect_url}/connectors/{connector['name']}/config", json=connector["config"],
                         timeout=30.0)
    if response.is_error:
        raise RuntimeError(f"Kafka Connect refused {connector['name']}: HTTP {response.status_code} {response.text}")
    return connector


@app.command("deploy")
def deploy_command(
    name: str = typer.Option("jobstream-job-events-to-postgres", help="the connector's name"),
    table: str = typer.Option(DEFAULT_TABLE, help="schema.table the sink upserts into"),
    connect_url: str = typer.Option(None, "--connect-url", help="the Connect worker's REST API "
                                                                 "(default: the local one of `infra up --connect`)"),
) -> None:
    """Install infra/connect/job-events-to-postgres.json: job events, one row each, into Postgres."""
    settings = Settings.from_env()
    url = connect_url or f"http://127.0.0.1:{settings.connect_port}"
    try:
        connector = deploy(settings, url, name=name, table=table)
    except (ValueError, RuntimeError, httpx.HTTPError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"connector {connector['name']}: {connector['config']['topics']} -> {table} (upsert on job_id, seq)")


@app.command("status")
def status_command(connect_url: str = typer.Option(None, "--connect-url")) -> None:
    """Each connector and its tasks' states."""
    url = connect_url or f"http://127.0.0.1:{Settings.from_env().connect_port}"
    try:
        response = httpx.get(f"{url}/connectors", params={"expand": "status"}, timeout=10.0)
        response.raise_for_status()
    except httpx.HTTPError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from None
    for name, info in sorted(response.json().items()):
        tasks = ", ".join(f"task {t['id']} {t['state']}" for t in info["status"]["tasks"])
        typer.echo(f"{name}: {info['status']['connector']['state']} ({tasks or 'no tasks'})")

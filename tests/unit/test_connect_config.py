"""The shipped sink config (infra/connect/job-events-to-postgres.json) as `jobstream connect deploy`
fills it from the settings."""

from __future__ import annotations

import pytest

from jobstream.config import Settings
from jobstream.connect_cli import jdbc_target, registry_api_url, render_connector
from jobstream.infra.connect import CONNECTOR_CONFIG

SETTINGS = Settings().with_(topic_prefix="acme", external_database_url="postgresql://etl:s3cret@db.local:5433/jobs",
                            schema_registry_url="http://127.0.0.1:8081/apis/ccompat/v7")


def test_the_shipped_config_upserts_flat_rows_on_job_id_and_seq() -> None:
    connector = render_connector(CONNECTOR_CONFIG.read_text(), SETTINGS, name="events", table="analytics.job_events")
    config = connector["config"]
    assert connector["name"] == "events"
    assert config["topics"] == "acme.analytics.job-events"
    assert (config["insert.mode"], config["primary.key.mode"], config["primary.key.fields"]) == (
        "upsert", "record_value", "job_id,seq")
    assert config["collection.name.format"] == "analytics.job_events"
    assert (config["connection.url"], config["connection.username"], config["connection.password"]) == (
        "jdbc:postgresql://db.local:5433/jobs", "etl", "s3cret")
    assert config["value.converter.apicurio.registry.url"] == "http://127.0.0.1:8081/apis/registry/v2"
    assert config["transforms.occurredAt.type"] == "org.apache.kafka.connect.transforms.TimestampConverter$Value"
    assert "${" not in str(connector)


def test_an_unknown_placeholder_is_an_error() -> None:
    with pytest.raises(KeyError, match="warehouse"):
        render_connector('{"name": "${name}", "config": {"x": "${warehouse}"}}', SETTINGS, name="n", table="t")


def test_jdbc_target_without_password_or_port() -> None:
    assert jdbc_target("postgresql://jobstream@127.0.0.1/jobstream") == {
        "jdbc_url": "jdbc:postgresql://127.0.0.1/jobstream", "jdbc_user": "jobstream", "jdbc_password": ""}
    with pytest.raises(ValueError, match="postgresql"):
        jdbc_target("mysql://x@h/db")


def test_the_converter_needs_an_apicurio_registry() -> None:
    assert registry_api_url("http://r:8081/apis/ccompat/v7/") == "http://r:8081/apis/registry/v2"
    for url in (None, "http://confluent:8081"):
        with pytest.raises(ValueError, match="JOBSTREAM_SCHEMA_REGISTRY_URL"):
            registry_api_url(url)

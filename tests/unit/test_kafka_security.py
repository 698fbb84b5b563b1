"""Every Kafka client's security settings come from Settings, in one place; PLAINTEXT adds none."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobstream.config import Settings
from jobstream.streams.kafka_io import admin_config, consumer_config, producer_config
from jobstream.streams.kafka_security import client_security, faust_credentials


def test_plaintext_adds_nothing() -> None:
    settings = Settings()
    assert client_security(settings) == {}
    assert faust_credentials(settings) is None
    assert "security.protocol" not in producer_config(settings)


def test_sasl_ssl_reaches_producers_and_consumers(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    settings = Settings(kafka_security_protocol="SASL_SSL", kafka_sasl_username="client",
                        kafka_sasl_password="pw", kafka_ca_file=ca)
    wanted = {"security.protocol": "SASL_SSL", "sasl.mechanisms": "SCRAM-SHA-512", "sasl.username": "client",
              "sasl.password": "pw", "ssl.ca.location": str(ca)}
    assert client_security(settings) == wanted
    for config in (producer_config(settings), consumer_config(settings, "g"),
                   admin_config(settings.kafka_bootstrap, **client_security(settings))):
        assert wanted.items() <= config.items()


def test_the_environment_chooses_the_protocol(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOBSTREAM_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("JOBSTREAM_KAFKA_SASL_USERNAME", "worker")
    assert client_security(Settings.from_env())["sasl.username"] == "worker"

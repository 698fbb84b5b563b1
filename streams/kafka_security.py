"""How every Kafka client of a process authenticates, from Settings: the one place.

PLAINTEXT (the default) adds nothing. SASL_SSL authenticates as a SCRAM-SHA-512 user over TLS,
verifying the broker's certificate against ``kafka_ca_file`` (the local CA of `infra up --secure`)
and its host name. librdkafka's clients take ``client_security``; faust's (aiokafka) take
``faust_credentials``, made from the same settings.
"""

from __future__ import annotations

import ssl
from typing import Any

from jobstream.config import Settings
from jobstream.infra.kafka_users import MECHANISM


def client_security(settings: Settings) -> dict[str, Any]:
    """librdkafka's security settings: merged into every producer, consumer and admin config."""
    if settings.kafka_security_protocol == "PLAINTEXT":
        return {}
    config: dict[str, Any] = {"security.protocol": "SASL_SSL", "sasl.mechanisms": MECHANISM,
                              "sasl.username": settings.kafka_sasl_username or "",
                              "sasl.password": settings.kafka_sasl_password or ""}
    if settings.kafka_ca_file is not None:
        config["ssl.ca.location"] = str(settings.kafka_ca_file)
    return config


def faust_credentials(settings: Settings) -> Any:
    """faust's ``broker_credentials``: None for PLAINTEXT, else SCRAM over TLS as above."""
    if settings.kafka_security_protocol == "PLAINTEXT":
        return None
    from faust.auth import SASLCredentials

    cafile = str(settings.kafka_ca_file) if settings.kafka_ca_file is not None else None
    return SASLCredentials(username=settings.kafka_sasl_username, password=settings.kafka_sasl_password,
                           ssl_context=ssl.create_default_context(cafile=cafile), mechanism=MECHANISM)

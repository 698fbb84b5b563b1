"""The secure local broker's configuration: a SASL_SSL listener, SCRAM users, ACLs enforced.

Clients and the broker itself (inter-broker traffic) authenticate on the SASL_SSL listener with
SCRAM-SHA-512; SCRAM users live in the cluster's metadata, so they are written at format time
(``--add-scram``) before the broker needs its own. The controller listener cannot use SCRAM in
KRaft (the controller would need the metadata to check it): it is SASL_SSL with PLAIN, whose only
user, ``broker``, is listed in the broker's (0600) properties. Both listeners are on loopback only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jobstream.infra.kafka_tls import TlsFiles
from jobstream.infra.kafka_users import MECHANISM, SUPER_USERS, ensure_users, principal

AUTHORIZER = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"


class SecureFiles:
    """The CA, the broker's key store and the users' passwords, in ``home`` (the broker's data dir)."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.tls = TlsFiles(home)
        self.users_file = home / "users.json"

    def ensure(self) -> dict[str, str]:
        self.tls.ensure()
        return ensure_users(self.users_file)

    def client_security(self, user: str = "admin") -> dict[str, Any]:
        """librdkafka's settings to connect as ``user`` (the admin by default)."""
        return {"security.protocol": "SASL_SSL", "sasl.mechanisms": MECHANISM, "sasl.username": user,
                "sasl.password": self.ensure()[user], "ssl.ca.location": str(self.tls.ca)}


def listener_lines(port: int, controller_port: int, files: SecureFiles) -> list[str]:
    """server.properties lines for the listeners, TLS, SASL and the authorizer."""
    users = files.ensure()
    password = users["broker"]
    scram = 'org.apache.kafka.common.security.scram.ScramLoginModule required'
    plain = 'org.apache.kafka.common.security.plain.PlainLoginModule required'
    return [
        f"listeners=SASL_SSL://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
        f"advertised.listeners=SASL_SSL://127.0.0.1:{port}",
        "controller.listener.names=CONTROLLER",
        "inter.broker.listener.name=SASL_SSL",
        "listener.security.protocol.map=SASL_SSL:SASL_SSL,CONTROLLER:SASL_SSL",
        f"sasl.enabled.mechanisms={MECHANISM}",
        f"sasl.mechanism.inter.broker.protocol={MECHANISM}",
        f'listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config={scram} username="broker" password="{password}";',
        "listener.name.controller.sasl.enabled.mechanisms=PLAIN",
        "sasl.mechanism.controller.protocol=PLAIN",
        f'listener.name.controller.plain.sasl.jaas.config={plain} username="broker" password="{password}" '
        f'user_broker="{password}";',
        "ssl.keystore.type=PEM",
        f"ssl.keystore.location={files.tls.keystore}",
        "ssl.truststore.type=PEM",
        f"ssl.truststore.location={files.tls.ca}",
        f"authorizer.class.name={AUTHORIZER}",
        f"super.users={';'.join(principal(user) for user in SUPER_USERS)}",
        "allow.everyone.if.no.acl.found=false",
    ]


def scram_format_args(files: SecureFiles) -> list[str]:
    """``kafka-storage format`` arguments creating every user's SCRAM credential."""
    return [arg for user, password in files.ensure().items()
            for arg in ("--add-scram", f"{MECHANISM}=[name={user},password={password}]")]

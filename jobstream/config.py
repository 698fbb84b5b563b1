"""Settings, read once from the environment (``JOBSTREAM_*``), passed explicitly everywhere else."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_KAFKA_VERSION = "3.9.1"
PREFIX = "JOBSTREAM_"
LOG_MAX_BYTES = 10 * 1024 * 1024  # output a worker streams per execution, by default
DEFAULT_LOG_RETENTION_DAYS = 30.0  # the requirements' retention of execution logs


class SettingsError(ValueError):
    """An environment variable holds a value its setting cannot take; the message names it."""


class Settings(BaseSettings):
    """Where things run and how topics are named. Immutable; derive variants with ``with_``.

    Each field is read from ``JOBSTREAM_<FIELD>`` unless its alias names another variable; an empty
    variable means the default."""

    model_config = SettingsConfigDict(env_prefix=PREFIX, frozen=True, env_ignore_empty=True,
                                      populate_by_name=True, extra="forbid")

    state_dir: Path = Field(default_factory=lambda: Path.cwd() / ".jobstream")
    cache_dir: Path = Field(default_factory=lambda: Path.home() / ".cache" / "jobstream")
    kafka_version: str = DEFAULT_KAFKA_VERSION
    kafka_port: int = 9092
    kafka_controller_port: int = 9093
    # Local broker nodes: 1, or a cluster (node n listens on kafka_port + 2(n-1), its controller
    # on kafka_controller_port + 2(n-1)); topics get min(brokers, 3) replicas.
    kafka_brokers: int = Field(default=1, ge=1, le=9)
    kafka_heap: str = "512m"
    # `infra up --secure`: the local broker listens SASL_SSL (SCRAM users, ACLs; docs/security.md)
    kafka_secure: bool = False
    # How every client reaches the broker (streams/kafka_security.py): PLAINTEXT, or SASL_SSL as a
    # SCRAM-SHA-512 user, trusting the CA in this PEM file (the system's CAs if unset)
    kafka_security_protocol: Literal["PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_username: str | None = None
    kafka_sasl_password: str | None = None
    kafka_ca_file: Path | None = None
    external_kafka: str | None = Field(default=None, alias="JOBSTREAM_KAFKA_BOOTSTRAP")
    pg_port: int = 54329
    external_database_url: str | None = Field(default=None, alias="JOBSTREAM_DATABASE_URL")
    topic_prefix: str = "jobstream"
    partitions: int = 12
    schema_registry_url: str | None = None
    registry_port: int = 8081  # `infra up --registry`: the local Apicurio Registry
    connect_port: int = 8083  # `infra up --connect`: the local Kafka Connect worker's REST API
    api_url: str = "http://127.0.0.1:8000"
    metrics_port_base: int = 9100  # `jobstream run`: processors' metrics on 9101 and up
    aging_step_s: float = 10.0  # dispatch: a waiting job gains one priority level per step
    queue_limits: str = ""  # dispatch: "queue=N,..." caps in-flight executions per queue
    state_retention_s: float = 3600.0  # state processor: completed/cancelled jobs slim down after this
    # workers: directories Python tasks import from, first (os.pathsep-separated, as PYTHONPATH)
    worker_python_path: Annotated[tuple[str, ...], NoDecode] = Field(default=(), alias="JOBSTREAM_WORKER_PYTHONPATH")
    # workers: module patterns Python tasks may call into, besides their python path's (worker/allowlist.py)
    worker_allow_modules: Annotated[tuple[str, ...], NoDecode] = Field(default=(),
                                                                       alias="JOBSTREAM_WORKER_ALLOW_MODULES")
    log_max_bytes: int = LOG_MAX_BYTES  # workers: output streamed per execution; the rest is dropped
    log_format: str = "text"  # every process: "text", or "json" (one object a line; logging_setup.py)
    # executions' output: kept this long in Postgres (the logs projector purges) and on the logs topic
    log_retention_days: Annotated[float, Field(gt=0)] = DEFAULT_LOG_RETENTION_DAYS
    # Authentication (docs/security.md). The API accepts JWTs signed with this HS256 secret, if set,
    # and RS256/ES256 ones signed with the keys an identity provider serves at this JWKS URL, if set;
    # with an issuer or audience set, every JWT must name it (iss, aud).
    jwt_secret: str | None = None
    jwt_jwks_url: str | None = None
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    # API: serves HTTPS with this certificate chain and private key (PEM files; both or neither)
    tls_cert: Path | None = None
    tls_key: Path | None = None
    # CLI, SDK and the API's JWKS fetches: CA certificates (PEM) trusted besides the system's
    ca_file: Path | None = None
    # The CLI sends this token, else the one the credentials file holds for its API URL.
    token: str | None = None
    # API: the dashboard's CSRF tokens are keyed with this (set it alike on every API behind one
    # address); unset, each API process draws its own at start
    ui_secret: str | None = None
    # API: submissions a second per key (or JWT subject) and per namespace, each with twice as many in a burst
    key_submit_rate: float = Field(default=100.0, gt=0)
    namespace_submit_rate: float = Field(default=500.0, gt=0)
    credentials_file: Path = Field(default_factory=lambda: Path.home() / ".config" / "jobstream" / "credentials")
    # Secrets (docs/security.md): the key-encryption keys, base64, current first (comma-separated),
    # or a file of them, one a line; neither set, <state_dir>/secrets.kek, which `jobstream run` creates.
    secrets_kek: str | None = None
    secrets_kek_file: Path | None = None
    # Worker reports bound to their worker id (core/report_keys.py): the state processor checks,
    # and the API hands out keys, when given this file of the reports secret (`jobstream run` makes
    # one); workers told to sign ask the API for their key at start.
    reports_secret_file: Path | None = None
    sign_reports: bool = False

    @field_validator("state_dir")
    @classmethod
    def _absolute(cls, path: Path) -> Path:
        return path.resolve()

    @field_validator("jwt_jwks_url")
    @classmethod
    def _http_url(cls, url: str | None) -> str | None:
        if url is not None and urlsplit(url).scheme not in ("http", "https"):
            raise ValueError("must be an http:// or https:// URL")
        return url

    @field_validator("worker_python_path", mode="before")
    @classmethod
    def _path_list(cls, value: Any) -> Any:
        return tuple(d for d in value.split(os.pathsep) if d) if isinstance(value, str) else value

    @field_validator("worker_allow_modules", mode="before")
    @classmethod
    def _pattern_list(cls, value: Any) -> Any:  # "a.*,b" as people write it, "a.*:b" as as_env() does
        return tuple(p for p in re.split(rf"[,{os.pathsep}\s]+", value) if p) if isinstance(value, str) else value

    @classmethod
    def from_env(cls) -> Settings:
        try:
            return cls()
        except ValidationError as error:
            raise SettingsError("; ".join(
                f"{env_name(str(e['loc'][0]))}: {e['msg']}, got {e['input']!r}" for e in error.errors())) from None

    @property
    def kek_path(self) -> Path:
        """Where the key-encryption keys are read from and rotated in, unless ``secrets_kek`` holds them."""
        return self.secrets_kek_file or self.state_dir / "secrets.kek"

    @property
    def api_port(self) -> int:
        """The port of ``api_url``, where `jobstream run` serves the API."""
        return urlsplit(self.api_url).port or 8000

    @property
    def kafka_node_ports(self) -> list[tuple[int, int]]:
        """Each local node's (broker port, controller port)."""
        return [(self.kafka_port + 2 * n, self.kafka_controller_port + 2 * n) for n in range(self.kafka_brokers)]

    @property
    def kafka_bootstrap(self) -> str:
        return self.external_kafka or ",".join(f"127.0.0.1:{port}" for port, _ in self.kafka_node_ports)

    @property
    def replication_factor(self) -> int:
        """Replicas of every topic: 3 on a cluster (2 in sync to acknowledge a write), 1 on one broker."""
        return min(self.kafka_brokers, 3)

    @property
    def database_url(self) -> str:
        return self.external_database_url or f"postgresql://jobstream@127.0.0.1:{self.pg_port}/jobstream"

    def as_env(self) -> dict[str, str]:
        """The environment that makes a child process see these settings (the broker and the
        database as this process reaches them)."""
        values = self.model_dump() | {"external_kafka": self.kafka_bootstrap,
                                      "external_database_url": self.database_url}
        return {env_name(name): _env_text(value) for name, value in values.items() if value is not None}

    def with_(self, **changes: object) -> Settings:
        return self.model_copy(update=changes)


def env_name(field: str) -> str:
    """The environment variable a setting is read from."""
    info = Settings.model_fields.get(field)
    return info.alias if info is not None and info.alias else PREFIX + field.upper()


WORKER_PYTHONPATH = env_name("worker_python_path")  # os.pathsep-separated, as PYTHONPATH
WORKER_ALLOW_MODULES = env_name("worker_allow_modules")  # comma-separated module patterns
REPORTS_SECRET_FILE = env_name("reports_secret_file")


def _env_text(value: object) -> str:
    return os.pathsep.join(value) if isinstance(value, tuple) else str(value)

"""Settings, read once from the environment (``JOBSTREAM_*``), passed explicitly everywhere else."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

DEFAULT_KAFKA_VERSION = "3.9.1"
WORKER_PYTHONPATH = "JOBSTREAM_WORKER_PYTHONPATH"  # os.pathsep-separated, as PYTHONPATH


def _env(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default


def _env_int(name: str, default: int) -> int:
    raw = _env(name, str(default))
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from None


def _env_float(name: str, default: float) -> float:
    raw = _env(name, str(default))
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {raw!r}") from None


@dataclass(frozen=True)
class Settings:
    """Where things run and how topics are named. Immutable; derive variants with ``with_``."""

    state_dir: Path
    cache_dir: Path
    kafka_version: str = DEFAULT_KAFKA_VERSION
    kafka_port: int = 9092
    kafka_controller_port: int = 9093
    kafka_heap: str = "512m"
    external_kafka: str | None = None
    pg_port: int = 54329
    external_database_url: str | None = None
    topic_prefix: str = "jobstream"
    partitions: int = 12
    schema_registry_url: str | None = None
    api_url: str = "http://127.0.0.1:8000"
    aging_step_s: float = 10.0  # dispatch: a waiting job gains one priority level per step
    queue_limits: str = ""  # dispatch: "queue=N,..." caps in-flight executions per queue
    state_retention_s: float = 3600.0  # state processor: completed/cancelled jobs slim down after this
    worker_python_path: tuple[str, ...] = ()  # workers: directories Python tasks import from, first
    log_format: str = "text"  # every process: "text", or "json" (one object a line; logging_setup.py)

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            state_dir=Path(_env("JOBSTREAM_STATE_DIR", str(Path.cwd() / ".jobstream"))).resolve(),
            cache_dir=Path(_env("JOBSTREAM_CACHE_DIR", str(Path.home() / ".cache" / "jobstream"))),
            kafka_version=_env("JOBSTREAM_KAFKA_VERSION", DEFAULT_KAFKA_VERSION),
            kafka_port=_env_int("JOBSTREAM_KAFKA_PORT", 9092),
            kafka_controller_port=_env_int("JOBSTREAM_KAFKA_CONTROLLER_PORT", 9093),
            kafka_heap=_env("JOBSTREAM_KAFKA_HEAP", "512m"),
            external_kafka=os.environ.get("JOBSTREAM_KAFKA_BOOTSTRAP") or None,
            pg_port=_env_int("JOBSTREAM_PG_PORT", 54329),
            external_database_url=os.environ.get("JOBSTREAM_DATABASE_URL") or None,
            topic_prefix=_env("JOBSTREAM_TOPIC_PREFIX", "jobstream"),
            partitions=_env_int("JOBSTREAM_PARTITIONS", 12),
            schema_registry_url=os.environ.get("JOBSTREAM_SCHEMA_REGISTRY_URL") or None,
            api_url=_env("JOBSTREAM_API_URL", "http://127.0.0.1:8000"),
            aging_step_s=_env_float("JOBSTREAM_AGING_STEP_S", 10.0),
            queue_limits=_env("JOBSTREAM_QUEUE_LIMITS", ""),
            state_retention_s=_env_float("JOBSTREAM_STATE_RETENTION_S", 3600.0),
            worker_python_path=tuple(d for d in _env(WORKER_PYTHONPATH, "").split(os.pathsep) if d),
            log_format=_env("JOBSTREAM_LOG_FORMAT", "text"),
        )

    @property
    def kafka_bootstrap(self) -> str:
        return self.external_kafka or f"127.0.0.1:{self.kafka_port}"

    @property
    def database_url(self) -> str:
        return self.external_database_url or f"postgresql://jobstream@127.0.0.1:{self.pg_port}/jobstream"

    def as_env(self) -> dict[str, str]:
        """The environment that makes a child process see these settings."""
        env = {
            "JOBSTREAM_STATE_DIR": str(self.state_dir),
            "JOBSTREAM_CACHE_DIR": str(self.cache_dir),
            "JOBSTREAM_KAFKA_BOOTSTRAP": self.kafka_bootstrap,
            "JOBSTREAM_DATABASE_URL": self.database_url,
            "JOBSTREAM_TOPIC_PREFIX": self.topic_prefix,
            "JOBSTREAM_PARTITIONS": str(self.partitions),
            "JOBSTREAM_API_URL": self.api_url,
            "JOBSTREAM_AGING_STEP_S": str(self.aging_step_s),
            "JOBSTREAM_QUEUE_LIMITS": self.queue_limits,
            "JOBSTREAM_STATE_RETENTION_S": str(self.state_retention_s),
            "JOBSTREAM_LOG_FORMAT": self.log_format,
        }
        if self.schema_registry_url:
            env["JOBSTREAM_SCHEMA_REGISTRY_URL"] = self.schema_registry_url
        if self.worker_python_path:
            env[WORKER_PYTHONPATH] = os.pathsep.join(self.worker_python_path)
        return env

    def with_(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]

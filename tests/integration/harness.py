"""Real jobstream processes for integration tests, and a reader of what they wrote to Kafka."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
from confluent_kafka import Consumer

from jobstream.config import Settings
from jobstream.core.lifecycle import TERMINAL
from jobstream.infra.process import wait_until
from jobstream.schemas import make_codec
from jobstream.streams.kafka_io import consumer_config, end_offsets  # noqa: F401 - the tests' helper too
from tests.credentials import auth_headers


class ServiceProcess:
    """One `python -m jobstream ...` process with its own log file."""

    def __init__(self, name: str, args: list[str], settings: Settings, log_dir: Path) -> None:
        self.name, self.args, self.settings = name, args, settings
        self.log_path = log_dir / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> ServiceProcess:
        env = {**os.environ, **self.settings.as_env()}
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "jobstream", *self.args], env=env,
                                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            start_new_session=True)
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def signal(self, sig: int) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, sig)

    def kill(self) -> None:
        """kill -9: no goodbye, no flush."""
        self.signal(signal.SIGKILL)
        if self.process is not None:
            self.process.wait(10)

    def stop(self, timeout_s: float = 20.0) -> int | None:
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()
            return None

    def restarted(self) -> ServiceProcess:
        """The same command started again, logging to the same file."""
        return ServiceProcess(self.name, self.args, self.settings, self.log_path.parent).start()

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


T = TypeVar("T")


def metrics_port_base(ports: int = 100) -> int:
    """A base for ``jobstream run``'s metrics ports (base, base + 1, ... for its processes), all free
    now and below the ephemeral range (32768 and up), where the machine's own outgoing connections
    (a busy 2-core machine runs hundreds: brokers, clients) would sooner or later take one of them."""
    while True:
        base = random.randrange(20_000, 30_000, ports)
        if all(_bindable(port) for port in range(base, base + ports)):
            return base


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def poll(check: Callable[[], T | None], timeout_s: float, what: str, interval_s: float = 0.1) -> T:
    """``check()``'s first truthy result; fails naming ``what`` after ``timeout_s`` (sized for a
    busy 2-core machine by the caller)."""
    deadline = time.monotonic() + timeout_s
    while not (result := check()):
        assert time.monotonic() < deadline, f"timed out after {timeout_s}s waiting for {what}"
        time.sleep(interval_s)  # polling interval of a deadline-bounded wait, not synchronisation
    return result


def poison_message(settings: Settings, poison_topic: str, timeout_s: float) -> tuple[bytes | None, dict[str, str]]:
    """The first message on the poison topic: its value and its headers (the origin, the reason)."""
    consumer = Consumer(consumer_config(settings, f"poison-check-{uuid.uuid4().hex[:8]}"))
    consumer.subscribe([poison_topic])
    try:
        message = poll(lambda: next((m for m in [consumer.poll(0.2)] if m is not None and m.error() is None), None),
                       timeout_s, "a message on the poison topic", interval_s=0)
    finally:
        consumer.close()
    raw_headers: list[tuple[str, bytes]] = list(message.headers() or [])  # type: ignore[arg-type]
    return message.value(), {k: v.decode() for k, v in raw_headers}


class TopicReader:
    """Reads decoded records from topics, from the beginning, accumulating as it polls."""

    def __init__(self, settings: Settings, *topics: str) -> None:
        self.codec = make_codec(settings.schema_registry_url)
        self.consumer = Consumer(consumer_config(settings, f"reader-{uuid.uuid4().hex[:8]}"))
        self.consumer.subscribe(list(topics))
        self.records: list[Any] = []
        self.raw: list[tuple[str | None, int | None, int | None]] = []

    def poll(self, seconds: float = 0.2) -> None:
        for message in self.consumer.consume(1000, seconds):
            if message.error() is None:
                self.raw.append((message.topic(), message.partition(), message.offset()))
                self.records.append(self.codec.decode(message.value(), topic=message.topic(),
                                                      partition=message.partition(), offset=message.offset()))

    def wait_for(self, condition: Callable[[list[Any]], bool], timeout_s: float, what: str) -> None:
        deadline = time.monotonic() + timeout_s
        while not condition(self.records):
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
            self.poll()

    def drain(self, quiet_s: float) -> None:
        """Poll until nothing new arrived for ``quiet_s`` seconds."""
        quiet_since = time.monotonic()
        while time.monotonic() - quiet_since < quiet_s:
            before = len(self.records)
            self.poll()
            if len(self.records) != before:
                quiet_since = time.monotonic()

    def close(self) -> None:
        self.consumer.close()


def service_args(name: str, api_port: int, schema: str) -> list[str]:
    """The command line of each named service of a test stack."""
    return {
        "state-processor": ["state-processor"],
        "dispatcher": ["dispatcher"],
        "timers": ["timer-processor"],
        "monitor": ["worker-monitor"],
        "projector": ["projector", "--schema", schema],
        "logs-projector": ["logs-projector", "--schema", schema],
        "api": ["api", "--port", str(api_port), "--schema", schema],
        "worker": ["worker", "--slots", "8"],
        "analytics": ["analytics-projector"],
    }[name]


@contextmanager
def api_stack(settings: Settings, services: dict[str, ServiceProcess], log_dir: Path, schema: str,
              names: Sequence[str]) -> Iterator[httpx.Client]:
    """Start the named services (``services`` stops them at the end), then an HTTP client of the
    API at ``settings.api_url`` once it is ready."""
    port = int(settings.api_url.rsplit(":", 1)[1])
    for name in names:
        services[name] = ServiceProcess(name, service_args(name, port, schema), settings, log_dir).start()
    with httpx.Client(base_url=settings.api_url, timeout=30, headers=auth_headers(settings)) as client:
        wait_until(lambda: api_ready(client), 60, "the API to be ready")
        yield client


def api_ready(client: httpx.Client) -> bool:
    try:
        return client.get("/readyz").status_code == 200
    except httpx.HTTPError:
        return False


def submit_job(client: httpx.Client, argv: list[str], **fields: object) -> dict:  # type: ignore[type-arg]
    """POST a shell job; the API answers 201 once it is visible (read-your-writes)."""
    response = client.post("/v1/jobs", json={"name": fields.pop("name", "e2e"), "task": {"type": "shell", "argv": argv},
                                             **fields})
    assert response.status_code == 201, response.text
    return response.json()


def wait_terminal(client: httpx.Client, job_ids: list[str], timeout_s: float) -> dict[str, dict]:  # type: ignore[type-arg]
    """Each job's row once it is final; fails naming one that is not within ``timeout_s``."""
    jobs: dict[str, dict] = {}  # type: ignore[type-arg]
    deadline = time.monotonic() + timeout_s
    pending = list(job_ids)
    while pending and time.monotonic() < deadline:
        for job_id in list(pending):
            job = client.get(f"/v1/jobs/{job_id}").json()
            if job["status"] in TERMINAL:
                jobs[job_id] = job
                pending.remove(job_id)
        if pending:
            time.sleep(0.1)  # polling interval of a deadline-bounded wait, not synchronisation
    assert not pending, f"{len(pending)} jobs not finished, e.g. {client.get(f'/v1/jobs/{pending[0]}').json()}"
    return jobs


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))

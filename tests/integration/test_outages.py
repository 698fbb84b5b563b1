"""Dependencies down: the whole stack under `jobstream run` (its supervisor restarts what dies) on a
broker and a Postgres of this module's own, which the tests stop and start again.

- Postgres down: reads answer 503 problem+json with Retry-After at once, commands are still
  accepted (202 with their command id); when it returns the projectors catch up, nothing lost.
- The broker down: commands answer 503 with Retry-After at once and are not acknowledged; a job
  running meanwhile is reported when it returns, and new jobs run again.
- Either outage is logged as a change of state, not as a line per failed attempt.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from jobstream.config import Settings
from jobstream.infra.kafka import LocalKafka
from jobstream.infra.postgres import LocalPostgres
from jobstream.infra.process import free_port, wait_until
from tests.credentials import auth_headers, with_credentials
from tests.integration.harness import ServiceProcess, api_ready, metrics_port_base, poll, submit_job, wait_terminal

PROMPT_S = 2.0  # how soon a request must be answered while a dependency is down
BUSY_MACHINE_S = 90.0  # recovery deadlines, sized for a busy 2-core machine


class Outages:
    """This module's broker and database, and `jobstream run` on them."""

    def __init__(self, home: Path) -> None:
        base = Settings.from_env()
        self.kafka = LocalKafka(home / "kafka", base.cache_dir, base.kafka_version, free_port(), free_port(),
                                base.kafka_heap)
        self.postgres = LocalPostgres(home / "postgres", free_port(), fast_and_unsafe=True)
        self.settings = with_credentials(base.with_(state_dir=home, external_kafka=self.kafka.bootstrap,
                                                    external_database_url=self.postgres.dsn, partitions=3,
                                                    api_url=f"http://127.0.0.1:{free_port()}",
                                                    metrics_port_base=metrics_port_base()),
                                         str(home / "credentials"))
        self.stack: ServiceProcess | None = None

    def up(self) -> None:
        with ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(lambda service: service.up(), (self.kafka, self.postgres)))
        self.stack = ServiceProcess("run", ["run", "--workers", "1", "--slots", "4"], self.settings,
                                    self.settings.state_dir).start()

    def down(self) -> None:
        if self.stack is not None:
            self.stack.stop(timeout_s=60)
        for service in (self.postgres, self.kafka):
            try:
                service.down()
            except Exception as error:  # noqa: BLE001 - report, keep stopping the other
                print(f"stopping {service} failed: {error}")

    def lines_since(self, offset: int) -> list[str]:
        assert self.stack is not None
        return self.stack.log_path.read_text(errors="replace")[offset:].splitlines()

    def log_size(self) -> int:
        assert self.stack is not None
        return len(self.stack.log_path.read_text(errors="replace"))


@pytest.fixture(scope="module")
def outages() -> Iterator[Outages]:
    home = Path(tempfile.mkdtemp(prefix="jobstream-outages-"))
    home.chmod(0o755)  # Postgres runs as its own user when the tests run as root
    stack = Outages(home)
    try:
        stack.up()
        yield stack
    finally:
        if stack.stack is not None:  # the stack's own lines: the brokers' clients repeat themselves during an outage
            own = [line for line in stack.lines_since(0) if "librdkafka" not in line and "aiokafka" not in line]
            print("----- jobstream run log, without the Kafka clients' lines -----\n" + "\n".join(own[-200:]))
        stack.down()
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def client(outages: Outages) -> Iterator[httpx.Client]:
    """The API's client, once a job runs end to end (every processor is up, after any outage)."""
    with httpx.Client(base_url=outages.settings.api_url, timeout=30, headers=auth_headers(outages.settings)) as api:
        wait_until(lambda: api_ready(api), BUSY_MACHINE_S, "the API to be ready")
        first = poll(lambda: _submitted(api), BUSY_MACHINE_S, "a first job to be accepted")
        wait_terminal(api, [first["job_id"]], BUSY_MACHINE_S)
        yield api


def timed(call: Any) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


def assert_unavailable(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert int(response.headers["Retry-After"]) >= 1
    body: dict[str, Any] = response.json()
    assert body["status"] == 503 and body["detail"]
    return body


SHELL_TRUE = {"name": "outage", "task": {"type": "shell", "argv": ["true"]}}


def test_postgres_down_reads_503_commands_202_and_the_projection_catches_up(
        outages: Outages, client: httpx.Client) -> None:
    before = submit_job(client, ["true"])
    wait_terminal(client, [before["job_id"]], BUSY_MACHINE_S)  # so that the cancel below is refused
    log_offset = outages.log_size()

    outages.postgres.down()
    read, read_s = timed(lambda: client.get(f"/v1/jobs/{before['job_id']}"))
    assert_unavailable(read)
    submitted, submit_s = timed(lambda: client.post("/v1/jobs", json=SHELL_TRUE))
    assert submitted.status_code == 202, submitted.text
    during = submitted.json()
    assert during["command_id"] and during["job_id"]
    keyed, keyed_s = timed(lambda: client.post("/v1/jobs", json={**SHELL_TRUE, "idempotency_key": "outage-1"}))
    assert keyed.status_code == 202, keyed.text
    cancel, cancel_s = timed(lambda: client.post(f"/v1/jobs/{before['job_id']}/cancel"))
    assert cancel.status_code == 202 and cancel.json()["command_id"], cancel.text
    assert max(read_s, submit_s, keyed_s, cancel_s) < PROMPT_S, (read_s, submit_s, keyed_s, cancel_s)

    outages.postgres.up()
    jobs = wait_terminal_when_readable(client, [before["job_id"], during["job_id"], keyed.json()["job_id"]])
    assert {job["status"] for job in jobs.values()} == {"completed"}  # the cancel came after the end
    command = poll(lambda: _json_if_ok(client.get(f"/v1/commands/{cancel.json()['command_id']}")),
                   BUSY_MACHINE_S, "the cancel sent during the outage to be decided")
    assert command["status"] == "rejected", command
    api_lines = [line for line in outages.lines_since(log_offset) if "read model" in line]
    assert any("does not answer" in line for line in api_lines), api_lines
    assert len(api_lines) <= 6, api_lines  # a change of state (and one reminder a process), not a flood


def test_broker_down_commands_503_a_running_job_is_reported_when_it_returns(
        outages: Outages, client: httpx.Client, tmp_path: Path) -> None:
    ended = tmp_path / "ended"
    running = submit_job(client, ["sh", "-c", f"sleep 3 && touch {ended}"])
    poll(lambda: client.get(f"/v1/jobs/{running['job_id']}").json()["status"] == "running", BUSY_MACHINE_S,
         "the job to run")
    log_offset = outages.log_size()

    outages.kafka.down()
    refused, refused_s = timed(lambda: client.post("/v1/jobs", json=SHELL_TRUE))
    body = assert_unavailable(refused)
    assert refused_s < PROMPT_S, refused_s
    assert client.get(f"/v1/jobs/{running['job_id']}").status_code == 200  # reads go on from the read model
    # the job ends while the broker is down: its report must survive until the broker returns
    poll(ended.exists, BUSY_MACHINE_S, "the job to end during the outage")

    outages.kafka.up()
    returned = time.monotonic()
    after = poll(lambda: _submitted(client), BUSY_MACHINE_S, "a submit to be accepted again")
    jobs = wait_terminal(client, [running["job_id"], after["job_id"]], BUSY_MACHINE_S)
    print(f"after the broker's return: a job ran end to end within {time.monotonic() - returned:.1f} s")
    assert jobs[running["job_id"]]["status"] == "completed", jobs[running["job_id"]]
    assert jobs[after["job_id"]]["status"] == "completed"
    # refused, so never produced: the job of the 503 does not exist once everything after it ran
    assert client.get(f"/v1/jobs/{body['job_id']}").status_code == 404
    written = outages.lines_since(log_offset)
    print(f"{len(written)} lines logged by the whole stack from the broker's stop to the end")
    assert len(written) <= 150, "\n".join(written[:200])  # a few lines a process, not one per attempt


def wait_terminal_when_readable(client: httpx.Client, job_ids: list[str]) -> dict[str, dict[str, Any]]:
    poll(lambda: client.get("/readyz").status_code == 200, BUSY_MACHINE_S, "the read model to answer again")
    return wait_terminal(client, job_ids, BUSY_MACHINE_S)


def _json_if_ok(response: httpx.Response) -> dict[str, Any] | None:
    return response.json() if response.status_code == 200 else None


def _submitted(client: httpx.Client) -> dict[str, Any] | None:
    response = client.post("/v1/jobs", json=SHELL_TRUE)
    return response.json() if response.status_code in (201, 202) else None


def test_a_finish_report_survives_the_workers_death_while_the_broker_is_away(
        outages: Outages, client: httpx.Client, tmp_path: Path) -> None:
    runs, ended = tmp_path / "runs", tmp_path / "ended"
    job = submit_job(client, ["sh", "-c", f"echo run >> {runs} && sleep 2 && touch {ended}"])
    poll(lambda: client.get(f"/v1/jobs/{job['job_id']}").json()["status"] == "running", BUSY_MACHINE_S,
         "the job to run")

    outages.kafka.down()
    poll(ended.exists, BUSY_MACHINE_S, "the job to end during the outage")
    worker = _worker_process(outages)
    poll(lambda: any((outages.settings.state_dir / "outbox").glob("*/reports-*.jsonl")), BUSY_MACHINE_S,
         "the finish report to be kept")
    worker.kill()  # kill -9: what librdkafka held in memory is gone; `jobstream run` starts a new worker
    worker.wait(30)

    outages.kafka.up()
    finished = wait_terminal(client, [job["job_id"]], BUSY_MACHINE_S)[job["job_id"]]
    assert finished["status"] == "completed", finished
    assert runs.read_text().splitlines() == ["run"]  # reported by the next worker, not run again
    # by the next worker, with the dead one's signature: `jobstream run` checks that reports are signed
    assert sum("reports signed with this worker's key" in line for line in outages.lines_since(0)) >= 2
    executions = client.get("/v1/executions", params={"job_id": job["job_id"]}).json()["items"]
    assert len(executions) == 1, executions


def _worker_process(outages: Outages) -> psutil.Process:
    assert outages.stack is not None
    workers = [child for child in psutil.Process(outages.stack.pid).children(recursive=True)
               if "worker" in child.cmdline() and "--slots" in child.cmdline()]
    assert len(workers) == 1, workers
    return workers[0]

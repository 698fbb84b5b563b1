"""`jobstream infra up --secure` then `jobstream run`: every process authenticates as its role on
the SASL_SSL broker, and jobs submitted with the CLI run to completion, one due later included."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from jobstream.infra.process import free_port
from tests.integration.harness import metrics_port_base, poll

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("JOBSTREAM_KAFKA_BOOTSTRAP") or os.environ.get("JOBSTREAM_DATABASE_URL")),
    reason="manages local services only",
)


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "jobstream", *args], capture_output=True, text=True, env=env,
                          timeout=240)


def job_status(env: dict[str, str], job_id: str) -> str | None:
    answer = cli(env, "get", job_id, "-o", "json")
    return str(json.loads(answer.stdout)["status"]) if answer.returncode == 0 else None


def submitted(env: dict[str, str], *args: str) -> str | None:
    """The job id, once the stack takes submissions (the API and its admin key are ready)."""
    answer = cli(env, "submit", "-o", "json", *args)
    return json.loads(answer.stdout)["job_id"] if answer.returncode == 0 else None


def test_the_whole_stack_runs_on_the_secure_broker() -> None:
    # Not under pytest's temporary root: Postgres runs as its own user when we are root.
    state = Path(tempfile.mkdtemp(prefix="jobstream-secure-"))
    state.chmod(0o755)
    env = {**os.environ, "JOBSTREAM_STATE_DIR": str(state), "JOBSTREAM_KAFKA_PORT": str(free_port()),
           "JOBSTREAM_KAFKA_CONTROLLER_PORT": str(free_port()), "JOBSTREAM_PG_PORT": str(free_port()),
           "JOBSTREAM_API_URL": f"http://127.0.0.1:{free_port()}",
           "JOBSTREAM_METRICS_PORT_BASE": str(metrics_port_base()),
           "JOBSTREAM_CREDENTIALS_FILE": str(state / "credentials"), "JOBSTREAM_PARTITIONS": "2",
           "JOBSTREAM_KAFKA_HEAP": "384m"}
    stack: subprocess.Popen[bytes] | None = None
    log = state / "run.log"
    try:
        up = cli(env, "infra", "up", "--secure")
        assert up.returncode == 0, up.stderr
        assert "JOBSTREAM_KAFKA_SECURITY_PROTOCOL=SASL_SSL" in up.stdout
        with log.open("wb") as out:
            stack = subprocess.Popen([sys.executable, "-m", "jobstream", "run"], env=env, stdout=out,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        now = poll(lambda: submitted(env, "--", "echo", "hi"), 180, "the stack to take a submission", 1.0)
        at = (datetime.now(UTC) + timedelta(seconds=3)).isoformat(timespec="seconds")
        later = submitted(env, "--at", at, "--", "echo", "later")  # queued when the timer processor fires
        assert later is not None
        poll(lambda: job_status(env, now) == "completed" or None, 120, "the job to complete", 1.0)
        poll(lambda: job_status(env, later) == "completed" or None, 120, "the job due later to complete", 1.0)
        assert "Authorization failed" not in log.read_text(errors="replace")
    except AssertionError:
        print(log.read_text(errors="replace")[-6000:] if log.exists() else "no log")
        raise
    finally:
        if stack is not None:
            os.killpg(stack.pid, signal.SIGTERM)
            stack.wait(60)
        cli(env, "infra", "down")
        shutil.rmtree(state, ignore_errors=True)

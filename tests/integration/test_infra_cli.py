"""`jobstream infra up|status|down` as an operator runs it: idempotent, clear, leaves nothing behind."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from jobstream.infra.process import find_process, free_port

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("JOBSTREAM_KAFKA_BOOTSTRAP") or os.environ.get("JOBSTREAM_DATABASE_URL")),
    reason="manages local services only",
)


def _jobstream(state: Path, ports: dict[str, int], *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "JOBSTREAM_STATE_DIR": str(state),
           "JOBSTREAM_KAFKA_PORT": str(ports["kafka"]),
           "JOBSTREAM_KAFKA_CONTROLLER_PORT": str(ports["controller"]),
           "JOBSTREAM_PG_PORT": str(ports["pg"]),
           "JOBSTREAM_PARTITIONS": "2"}
    return subprocess.run([sys.executable, "-m", "jobstream", "infra", *args],
                          capture_output=True, text=True, env=env, timeout=240)


def _our_processes(state: Path) -> list[int]:
    found = [find_process("kafka.Kafka", str(state)), find_process("postgres", str(state))]
    return [pid for pid in found if pid is not None]


def test_up_twice_status_down() -> None:
    # Not under pytest's own temporary root: another pytest session on the machine makes that 0700
    # again, and Postgres runs as its own user when we are root.
    state = Path(tempfile.mkdtemp(prefix="jobstream-infra-"))
    state.chmod(0o755)
    ports = {"kafka": free_port(), "controller": free_port(), "pg": free_port()}
    try:
        first = _jobstream(state, ports, "up")
        assert first.returncode == 0, first.stderr
        assert "kafka started" in first.stdout and "postgres started" in first.stdout
        assert f"JOBSTREAM_KAFKA_BOOTSTRAP=127.0.0.1:{ports['kafka']}" in first.stdout
        assert f"JOBSTREAM_DATABASE_URL=postgresql://jobstream@127.0.0.1:{ports['pg']}/jobstream" in first.stdout

        second = _jobstream(state, ports, "up")
        assert second.returncode == 0, second.stderr
        assert "kafka already running" in second.stdout and "postgres already running" in second.stdout
        assert "all present" in second.stdout

        # A stale pid file does not hide the running broker.
        (state / "kafka" / "kafka.pid").write_text("999999")
        status = _jobstream(state, ports, "status")
        assert "kafka: ready" in status.stdout and "postgres: ready" in status.stdout
        assert len(_our_processes(state)) == 2
    finally:
        down = _jobstream(state, ports, "down")
    assert down.returncode == 0, down.stderr
    shutil.rmtree(state, ignore_errors=True)
    assert "kafka stopped" in down.stdout and "postgres stopped" in down.stdout
    assert _our_processes(state) == []
    assert "stopped" in _jobstream(state, ports, "status").stdout


def test_taken_port_is_a_clear_error(tmp_path: Path) -> None:
    import socket

    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        taken = blocker.getsockname()[1]
        result = _jobstream(tmp_path, {"kafka": taken, "controller": free_port(), "pg": free_port()}, "up")
    assert result.returncode == 1
    assert f"port {taken} is taken" in result.stderr
    assert "Traceback" not in result.stderr

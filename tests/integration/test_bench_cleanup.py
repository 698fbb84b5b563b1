"""Benchmarks leave nothing on the broker: not when they finish, not when Ctrl-C stops them; with
--keep they leave everything, and `jobstream bench clean --prefix` removes it."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from confluent_kafka.admin import AdminClient

from jobstream.bench_cleanup import Leftovers, admin_client, find, of_run
from jobstream.config import Settings
from jobstream.infra.process import pid_alive

PREFIX_LINE = re.compile(r"bench topic prefix: (\S+);")
START_TIMEOUT_S = 120.0  # processes of a fresh prefix joining their groups, on a busy 2-core machine
EXIT_TIMEOUT_S = 180.0  # a bench's own clean-up waits up to 60 s for members to leave; then topics go
SMALLEST_E2E = ["e2e", "--jobs", "1", "--kind", "shell", "--workers", "1", "--slots", "1"]
ENDLESS_E2E = ["e2e", "--jobs", "100000", "--kind", "shell", "--rate", "20", "--workers", "1", "--slots", "2"]


class Bench:
    """`jobstream bench ...` in a session of its own, as a terminal runs it; output in files."""

    def __init__(self, settings: Settings, log_dir: Path, *args: str) -> None:
        self.stdout, self.stderr = log_dir / "bench.out", log_dir / "bench.err"
        with self.stdout.open("wb") as out, self.stderr.open("wb") as err:
            self.process = subprocess.Popen([sys.executable, "-m", "jobstream", "bench", *args],
                                            env={**os.environ, **settings.as_env()}, stdout=out, stderr=err,
                                            stdin=subprocess.DEVNULL, start_new_session=True)

    def prefix(self) -> str:
        """The run's prefix, from the line the bench prints first."""
        deadline = time.monotonic() + START_TIMEOUT_S
        while (found := PREFIX_LINE.search(self.stderr.read_text())) is None:
            assert self.process.poll() is None, f"the bench exited early:\n{self.stderr.read_text()}"
            assert time.monotonic() < deadline, "the bench printed no prefix"
            time.sleep(0.1)  # polling interval of a deadline-bounded wait
        return found.group(1)

    def wait(self) -> int:
        try:
            return self.process.wait(EXIT_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise AssertionError(f"the bench did not exit in {EXIT_TIMEOUT_S}s:\n{self.stderr.read_text()}") from None

    def session_processes(self) -> list[int]:
        """Live processes of the bench's session: the processes it started, if any survived it."""
        alive = []
        for pid in psutil.pids():
            try:
                if os.getsid(pid) == self.process.pid and pid_alive(pid):
                    alive.append(pid)
            except (ProcessLookupError, PermissionError):
                continue
        return alive

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)


@pytest.fixture
def admin(test_settings: Settings) -> AdminClient:
    return admin_client(test_settings.kafka_bootstrap)


def _left(admin: AdminClient, prefix: str) -> tuple[list[str], list[str]]:
    """The run's topics and consumer groups still on the broker."""
    found = find(admin, of_run(prefix))
    return found.topics, found.groups


def _seen_running(admin: AdminClient, bench: Bench, prefix: str) -> Leftovers:
    """Poll until the run's topics and its processors' groups are on the broker (or the bench ended)."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline and bench.process.poll() is None:
        found = find(admin, of_run(prefix))
        if found.topics and {f"{prefix}.state-processor", f"{prefix}.dispatcher"} <= set(found.groups):
            return found
        time.sleep(0.2)  # polling interval of a deadline-bounded wait
    raise AssertionError(f"never saw the run's topics and groups; bench stderr:\n{bench.stderr.read_text()}")


def test_a_finished_bench_deletes_its_topics_and_groups(test_settings: Settings, admin: AdminClient,
                                                        tmp_path: Path) -> None:
    # Given a short bench run, seen with its topics and consumer groups on the broker
    bench = Bench(test_settings, tmp_path, *SMALLEST_E2E)
    try:
        prefix = bench.prefix()
        seen = _seen_running(admin, bench, prefix)
        # When it finishes
        assert bench.wait() == 0, bench.stderr.read_text()
    finally:
        bench.stop()
    # Then its figures are printed, the engine processes' transactions among them (a job is decided
    # and assigned in at least one each), and nothing of its prefix is left
    figures = json.loads(bench.stdout.read_text())["kinds"]["shell"]
    assert figures["jobs"] == 1
    transactions = figures["transactions_per_job"]
    assert sorted(transactions) == ["dispatcher", "state-processor", "worker-monitor"]
    assert transactions["state-processor"] >= 1 and transactions["dispatcher"] >= 1
    assert len(seen.topics) >= 12
    assert _left(admin, prefix) == ([], [])
    assert bench.session_processes() == []


@pytest.mark.parametrize("whom", ["process-group", "bench-only"])
def test_an_interrupted_bench_stops_its_processes_and_deletes_its_topics_and_groups(
        test_settings: Settings, admin: AdminClient, tmp_path: Path, whom: str) -> None:
    # Given a bench that would run for an hour, seen running
    bench = Bench(test_settings, tmp_path, *ENDLESS_E2E)
    try:
        prefix = bench.prefix()
        _seen_running(admin, bench, prefix)
        # When Ctrl-C reaches it (a terminal signals the whole group; `kill -INT` the bench alone)
        if whom == "process-group":
            os.killpg(bench.process.pid, signal.SIGINT)
        else:
            bench.process.send_signal(signal.SIGINT)
        code = bench.wait()
    finally:
        bench.stop()
    # Then it stops, its processes are gone, and nothing of its prefix is left
    assert code != 0
    assert "removed the run's" in bench.stderr.read_text(), bench.stderr.read_text()
    assert bench.session_processes() == []
    assert _left(admin, prefix) == ([], [])


def test_keep_leaves_the_run_for_inspection_and_bench_clean_removes_it(test_settings: Settings, admin: AdminClient,
                                                                      tmp_path: Path) -> None:
    # Given a short bench run with --keep
    bench = Bench(test_settings, tmp_path, *SMALLEST_E2E, "--keep")
    try:
        prefix = bench.prefix()
        assert bench.wait() == 0, bench.stderr.read_text()
    finally:
        bench.stop()
    # Then its prefix is printed and its topics and groups are still there
    assert f"jobstream bench clean --prefix {prefix}" in bench.stderr.read_text()
    kept = find(admin, of_run(prefix))
    assert len(kept.topics) >= 12 and f"{prefix}.state-processor" in kept.groups
    # When `jobstream bench clean --prefix` runs
    clean = subprocess.run([sys.executable, "-m", "jobstream", "bench", "clean", "--prefix", prefix],
                           env={**os.environ, **test_settings.as_env()}, capture_output=True, text=True, timeout=120)
    # Then it names what it deleted, and nothing of the prefix is left
    assert clean.returncode == 0, clean.stderr
    assert f"deleted {prefix}.events" in clean.stdout and f"deleted {prefix}.state-processor" in clean.stdout
    assert _left(admin, prefix) == ([], [])


def test_the_floor_bench_passes_each_job_s_records_along_and_leaves_nothing(test_settings: Settings,
                                                                           admin: AdminClient, tmp_path: Path) -> None:
    # Given a short run of the pipeline's floor
    bench = Bench(test_settings, tmp_path, "floor", "--jobs", "200")
    try:
        prefix = bench.prefix()
        assert bench.wait() == 0, bench.stderr.read_text()
    finally:
        bench.stop()
    # Then its stand-ins wrote what the real processes write for a job (records, and markers of
    # the transactions), each process's CPU is measured, and nothing of its prefix is left
    figures = json.loads(bench.stdout.read_text())
    assert figures["jobs"] == 200 and figures["end_to_end_jobs_per_s"] > 0
    offsets = figures["kafka_offsets_per_job"]
    assert offsets["commands"] >= 2 and offsets["events"] >= 5 and offsets["assignments"] >= 1, offsets
    assert offsets["state-processor-changelog"] >= 2 and offsets["dispatcher-changelog"] >= 2, offsets
    assert offsets["commands"] < 2.5, offsets  # one finish report a job: each worker reads its own assignments
    assert {"state-processor", "dispatcher", "projector", "worker-0", "worker-1", "bench client"} <= set(
        figures["cpu_ms_per_job"])
    assert _left(admin, prefix) == ([], [])
    assert bench.session_processes() == []

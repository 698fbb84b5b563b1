"""A bench notices a process of its stack that ended instead of waiting out its timeout."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from jobstream.bench_run import BenchRun
from jobstream.config import Settings


def test_a_process_that_ended_is_named_with_its_exit_code_and_log(tmp_path: Path) -> None:
    run = BenchRun(Settings(), tmp_path)
    ended = run.spawn("worker", "--help")  # prints its usage and exits 0
    ended.wait(60)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    run.processes.insert(0, sleeper)  # a live one first: only the ended one is named
    run.logs.insert(0, tmp_path / "0-sleeper.log")
    try:
        with pytest.raises(RuntimeError, match=r"^worker exited with code 0 during the run; its log: .*0-worker\.log$"):
            run.check_alive()
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_live_stack_passes(tmp_path: Path) -> None:
    run = BenchRun(Settings(), tmp_path)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    run.processes.append(sleeper)
    run.logs.append(tmp_path / "0-sleeper.log")
    try:
        run.check_alive()
    finally:
        sleeper.kill()
        sleeper.wait()

"""The shell executor against real child processes: exit codes, bounded output, timeouts, cancel."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from jobstream.infra.process import pid_alive
from jobstream.schemas import Outcome, ShellTask
from jobstream.worker.executor import TailBuffer, run_shell
from jobstream.worker.executors.base import StopSignal


def run(task: ShellTask, timeout_s: float | None = None, cancel_after_s: float | None = None):  # type: ignore[no-untyped-def]
    async def main():  # type: ignore[no-untyped-def]
        cancelled = StopSignal()
        if cancel_after_s is not None:
            asyncio.get_running_loop().call_later(cancel_after_s, cancelled.set)
        return await run_shell(task, timeout_s, cancelled)
    return asyncio.run(main())


def test_success_captures_stdout() -> None:
    result = run(ShellTask(argv=["echo", "hello"]))
    assert (result.outcome, result.exit_code, result.stdout_tail) == (Outcome.SUCCEEDED, 0, "hello\n")


def test_non_zero_exit_fails_with_code_and_stderr_tail() -> None:
    result = run(ShellTask(argv=["sh", "-c", "echo boom >&2; exit 3"]))
    assert (result.outcome, result.exit_code) == (Outcome.FAILED, 3)
    assert result.stderr_tail == "boom\n"


def test_env_cwd_and_explicit_shell(tmp_path: Path) -> None:
    result = run(ShellTask(argv=["echo $GREETING from $(pwd)"], shell=True, env={"GREETING": "hi"}, cwd=str(tmp_path)))
    assert result.stdout_tail == f"hi from {tmp_path}\n"
    assert run(ShellTask(argv=["echo", "$HOME"])).stdout_tail == "$HOME\n"  # argv: no shell unless asked


def test_output_is_bounded_with_a_truncation_marker() -> None:
    result = run(ShellTask(argv=["sh", "-c", "yes line | head -c 100000"]))
    assert "[... " in result.stdout_tail and "bytes truncated]" in result.stdout_tail
    assert len(result.stdout_tail) < 9 * 1024


def test_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    pid_file = tmp_path / "grandchild.pid"
    started = time.monotonic()
    result = run(ShellTask(argv=["sh", "-c", f"sleep 60 & echo $! > {pid_file}; wait"]), timeout_s=0.5)
    assert result.outcome == Outcome.TIMED_OUT and "timed out" in (result.error or "")
    assert time.monotonic() - started < 10
    grandchild = int(pid_file.read_text())
    assert not _alive(grandchild), "the grandchild outlived the timeout"


def test_cancel_stops_it() -> None:
    result = run(ShellTask(argv=["sleep", "60"]), cancel_after_s=0.3)
    assert result.outcome == Outcome.CANCELLED


def test_a_missing_program_is_a_failure_not_a_crash() -> None:
    result = run(ShellTask(argv=["/nonexistent/program"]))
    assert result.outcome == Outcome.FAILED and "could not start" in (result.error or "")


def test_tail_buffer_keeps_the_end() -> None:
    buffer = TailBuffer(limit=4)
    buffer.feed(b"abc")
    buffer.feed(b"def")
    assert (bytes(buffer.data), buffer.dropped) == (b"cdef", 2)


def _alive(pid: int) -> bool:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:  # the kernel may take a moment to reap
        if not pid_alive(pid):
            return False
        time.sleep(0.05)
    return True

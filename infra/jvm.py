"""A detached JVM service (the schema registry, the Connect worker): pid file, start, wait, stop.

Found by its command line when the pid file is lost or stale, as the broker is, so a lost pid
file never orphans a process.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from jobstream.infra.process import InfraError, find_process, pid_alive, read_pid, tail, terminate, wait_until


@dataclass(frozen=True)
class DetachedJvm:
    name: str  # for messages: "schema registry", "kafka connect"
    home: Path
    marker: str  # a command-line argument only this service's process has

    @property
    def pid_file(self) -> Path:
        return self.home / "pid"

    @property
    def log_file(self) -> Path:
        return self.home / "stdout.log"

    def running_pid(self) -> int | None:
        pid = read_pid(self.pid_file)
        if pid is not None and pid_alive(pid) and find_process(self.marker) == pid:
            return pid
        found = find_process(self.marker)
        if found is None:
            self.pid_file.unlink(missing_ok=True)
        else:
            self.pid_file.write_text(str(found))
        return found

    def start(self, command: list[str], ready: Callable[[], bool], timeout_s: float) -> int:
        """Start ``command`` detached (it outlives the CLI), logging to a file; wait until ``ready``."""
        self.home.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as out:
            process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                       start_new_session=True)
        self.pid_file.write_text(str(process.pid))
        self.wait_ready(process.pid, ready, timeout_s, process)
        return process.pid

    def wait_ready(self, pid: int, ready: Callable[[], bool], timeout_s: float,
                   process: subprocess.Popen[bytes] | None = None) -> None:
        def check() -> bool:
            exited = process.poll() is not None if process is not None else not pid_alive(pid)
            if exited:
                raise InfraError(f"the {self.name} (pid {pid}) exited; last lines of its log:\n{tail(self.log_file)}")
            return ready()

        wait_until(check, timeout_s, f"the {self.name} (log: {self.log_file})", 0.25)

    def stop(self) -> str:
        pid = self.running_pid()
        if pid is None:
            return f"{self.name} not running"
        terminate(pid, timeout_s=30.0)
        self.pid_file.unlink(missing_ok=True)
        return f"{self.name} stopped (pid {pid})"

"""`jobstream run`: the whole stack in the foreground, each process's lines prefixed with its name.

Ctrl-C (or SIGTERM) stops every process with SIGTERM and waits for it; a process that dies on
its own is restarted after a pause, at most a few times a minute, and says so.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TextIO

from jobstream.config import Settings

COLOURS = ["36", "33", "35", "32", "34", "31", "96", "93"]
MAX_RESTARTS_PER_MINUTE = 5
STOP_TIMEOUT_S = 20.0


@dataclass
class Child:
    name: str
    args: list[str]
    colour: str
    process: subprocess.Popen[bytes] | None = None
    restarts: deque[float] = field(default_factory=deque)


# The processors `run` starts, with their metrics port (above the base, 9100 unless
# JOBSTREAM_METRICS_PORT_BASE says otherwise) for the first instance; instance n serves on that
# port + 100 * (n - 1), worker n on base + 10 + n. Each instance gets its own id: static group
# membership, and a transactional id of its own for those on the exactly-once engine.
PROCESSORS: list[tuple[str, list[str], int, str | None]] = [  # name, command, metrics port offset, id base
    ("state-processor", ["state-processor"], 1, "state-processor"),
    ("dispatcher", ["dispatcher"], 2, "dispatcher"),
    ("timers", ["timer-processor"], 3, "timers"),
    ("monitor", ["worker-monitor"], 5, "worker-monitor"),
    ("projector", ["projector"], 4, None),
    ("logs", ["logs-projector"], 6, None),
]


def default_children(workers: int = 1, slots: int = 4, python_path: tuple[str, ...] = (),
                     instances: int = 1, api_port: int = 8000,
                     metrics_base: int = 9100, allow_modules: tuple[str, ...] = ()) -> list[tuple[str, list[str]]]:
    """Every process of the stack: ``instances`` of each processor sharing its partitions, the API
    on ``api_port`` (which serves its metrics too), and the workers."""
    children = []
    for n in range(1, instances + 1):
        for name, command, offset, id_base in PROCESSORS:
            label = name if instances == 1 else f"{name}-{n}"
            identity = ["--instance-id", f"{id_base}-{n}"] if id_base else []
            port = metrics_base + offset + 100 * (n - 1)
            children.append((label, [*command, *identity, "--metrics-port", str(port)]))
    children.append(("api", ["api", "--port", str(api_port)]))
    code = [arg for directory in python_path for arg in ("--python-path", directory)]
    code += [arg for pattern in allow_modules for arg in ("--allow-module", pattern)]
    children += [(f"worker-{n}", ["worker", "--slots", str(slots), "--metrics-port", str(metrics_base + 10 + n),
                                  *code]) for n in range(1, workers + 1)]
    return children


# The secure broker's user (infra/kafka_users.py) each command authenticates as.
ROLE_OF_COMMAND = {"state-processor": "state-processor", "dispatcher": "dispatcher", "timer-processor": "timers",
                   "worker-monitor": "worker-monitor", "projector": "projector", "logs-projector": "projector",
                   "analytics-projector": "projector", "api": "api", "worker": "worker"}


class Supervisor:
    """Starts the children, restarts one that exits, stops them all. ``out``: where their
    prefixed lines go (stdout by default; a log file when a bench or a test supervises).
    ``as_role``: on a secure broker, the settings of a child by its role (ROLE_OF_COMMAND)."""

    def __init__(self, settings: Settings, children: list[tuple[str, list[str]]], out: TextIO | None = None,
                 as_role: Callable[[str], Settings] | None = None) -> None:
        self.env = {**os.environ, **settings.as_env(), "PYTHONUNBUFFERED": "1"}
        self.as_role = as_role
        self.children = [Child(name, args, COLOURS[i % len(COLOURS)]) for i, (name, args) in enumerate(children)]
        self.width = max(len(c.name) for c in self.children)
        self.stopping = threading.Event()
        self.print_lock = threading.Lock()
        self.out = out

    def run(self) -> int:
        signal.signal(signal.SIGINT, lambda *_: self.stopping.set())
        signal.signal(signal.SIGTERM, lambda *_: self.stopping.set())
        self.start_all()
        self.watch()
        return 0

    def start_all(self) -> None:
        for child in self.children:
            self._start(child)

    def watch(self) -> None:
        """Restart what exits until ``stopping`` is set, then stop everything."""
        while not self.stopping.wait(0.5):
            for child in self.children:
                self._restart_if_dead(child)
        self._say("supervisor", "0", "stopping all processes")
        self._stop_all()

    def child(self, name: str) -> Child:
        return next(c for c in self.children if c.name == name)

    def _start(self, child: Child) -> None:
        env = self.env
        if self.as_role is not None:
            env = {**env, **self.as_role(ROLE_OF_COMMAND[child.args[0]]).as_env()}
        child.process = subprocess.Popen(
            [sys.executable, "-m", "jobstream", *child.args], env=env, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )
        threading.Thread(target=self._pump, args=(child, child.process), daemon=True).start()
        self._say(child.name, child.colour, f"started (pid {child.process.pid})")

    def _pump(self, child: Child, process: subprocess.Popen[bytes]) -> None:
        assert process.stdout is not None
        for raw in process.stdout:
            self._say(child.name, child.colour, raw.decode(errors="replace").rstrip())

    def _say(self, name: str, colour: str, line: str) -> None:
        prefix = f"{name:<{self.width}} |"
        if self.out is None and sys.stdout.isatty():
            prefix = f"\033[{colour}m{prefix}\033[0m"
        with self.print_lock:
            print(f"{prefix} {line}", flush=True, file=self.out or sys.stdout)

    def _restart_if_dead(self, child: Child) -> None:
        if child.process is None or child.process.poll() is None:
            return
        now = time.monotonic()
        while child.restarts and now - child.restarts[0] > 60:
            child.restarts.popleft()
        if len(child.restarts) >= MAX_RESTARTS_PER_MINUTE:
            self._say(child.name, child.colour, "exited too often; giving up on it (see its lines above)")
            child.process = None
            return
        self._say(child.name, child.colour, f"exited with code {child.process.returncode}; restarting")
        child.restarts.append(now)
        self._start(child)

    def _stop_all(self) -> None:
        alive = [c for c in self.children if c.process is not None and c.process.poll() is None]
        for child in alive:
            _signal_group(child.process, signal.SIGTERM)  # type: ignore[arg-type]
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for child in alive:
            assert child.process is not None
            try:
                child.process.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                self._say(child.name, child.colour, "did not stop in time: SIGKILL")
                _signal_group(child.process, signal.SIGKILL)
                child.process.wait(5)
            self._say(child.name, child.colour, f"stopped (code {child.process.returncode})")


@contextmanager
def supervised(settings: Settings, children: list[tuple[str, list[str]]], out: TextIO) -> Iterator[Supervisor]:
    """The children running under the restart policy of `jobstream run`, watched from a thread,
    for as long as the block runs; all stopped at its end."""
    supervisor = Supervisor(settings, children, out)
    supervisor.start_all()
    watcher = threading.Thread(target=supervisor.watch, name="supervisor", daemon=True)
    watcher.start()
    try:
        yield supervisor
    finally:
        supervisor.stopping.set()
        watcher.join(STOP_TIMEOUT_S + 10)


def _signal_group(process: subprocess.Popen[bytes], sig: int) -> None:
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        pass

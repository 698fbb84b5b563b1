"""One benchmark run's footprint: its topic prefix, the processes it starts, and their removal.

``bench_run`` wraps a bench. However the bench ends (its result, an error, Ctrl-C or SIGTERM),
its processes are stopped first, then the topics and consumer groups of its prefix are deleted;
with ``keep`` they stay and the prefix is printed instead. During the clean-up a first Ctrl-C
only says what is going on; a second one leaves the rest to ``jobstream bench clean``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from jobstream.bench_cleanup import new_prefix, of_run, remove
from jobstream.config import Settings
from jobstream.infra.topics import Topics
from jobstream.streams.kafka_io import ensure_specs

STOP_TIMEOUT_S = 30.0

SignalHandler = Callable[[int, FrameType | None], Any]


def say(line: str) -> None:
    """Bench chatter goes to stderr: stdout is the JSON result."""
    print(line, file=sys.stderr, flush=True)


def reader_group(settings: Settings, role: str = "reader") -> str:
    """A consumer group for one of the bench's own readers, under the run's prefix."""
    return f"{settings.topic_prefix}.{role}-{uuid.uuid4().hex[:8]}"


@dataclass
class BenchRun:
    settings: Settings
    log_dir: Path
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    logs: list[Path] = field(default_factory=list)  # each process's, in the same order
    keep: bool = False  # set by a body whose run failed its checks: its topics are the evidence

    @property
    def prefix(self) -> str:
        return self.settings.topic_prefix

    def spawn(self, *args: str, name: str | None = None) -> subprocess.Popen[bytes]:
        """``python -m jobstream ARGS`` on the run's topics, logging to the run's log directory
        (its file named after ``name``, by default the command)."""
        log_path = self.log_dir / f"{len(self.processes)}-{name or args[0]}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen([sys.executable, "-m", "jobstream", *args],
                                       env={**os.environ, **self.settings.as_env()},
                                       stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.processes.append(process)
        self.logs.append(log_path)
        return process

    def check_alive(self) -> None:
        """RuntimeError naming a process that ended, and its log: the run cannot finish without
        it (nothing restarts it here), so waiting out the bench's timeout would only hide why."""
        for process, log_path in zip(self.processes, self.logs, strict=True):
            if (code := process.poll()) is not None:
                raise RuntimeError(f"{log_path.stem.split('-', 1)[1]} exited with code {code} during the run; "
                                   f"its log: {log_path}")

    def stop(self) -> None:
        stop_processes(self.processes)


def stop_processes(processes: list[subprocess.Popen[bytes]], timeout_s: float = STOP_TIMEOUT_S) -> None:
    """SIGTERM every live process, wait for all in parallel, SIGKILL what is left at the deadline."""
    alive = [p for p in processes if p.poll() is None]
    for process in alive:
        process.terminate()
    deadline = time.monotonic() + timeout_s
    for process in alive:
        try:
            process.wait(max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


@contextmanager
def bench_run(base: Settings, kind: str, keep: bool = False) -> Iterator[BenchRun]:
    """A fresh prefix with jobstream's topics; stopped however the body ends, and removed unless
    asked to keep them or the body failed."""
    settings = base.with_(topic_prefix=new_prefix(kind))
    run = BenchRun(settings, Path(tempfile.mkdtemp(prefix=f"jobstream-{settings.topic_prefix}-")))
    say(f"bench topic prefix: {run.prefix}; its processes log to {run.log_dir}")
    with _handling_signals(_interrupt):
        try:
            ensure_specs(settings, Topics(run.prefix).specs(settings.partitions))
            yield run
        except Exception:
            keep = True  # a failed run's topics are the evidence: kept, whatever was asked
            raise
        finally:
            _finish(run, keep or run.keep)


def _finish(run: BenchRun, keep: bool) -> None:
    hint = f"jobstream bench clean --prefix {run.prefix}"
    try:
        with _handling_signals(_patient_interrupt()):
            run.stop()
            if keep:
                say(f"kept the run's topics and consumer groups: prefix {run.prefix} (remove them: {hint})")
                return
            removal = remove(run.settings.kafka_bootstrap, of_run(run.prefix))
    except KeyboardInterrupt:
        say(f"clean-up interrupted; remove what is left with: {hint}")
        raise
    except Exception as error:  # noqa: BLE001 - reported; the bench's own outcome goes on
        say(f"clean-up failed ({error}); remove what is left with: {hint}")
        return
    if removal.left:
        say(f"could not remove {removal.left.topics + removal.left.groups}; try: {hint}")
    else:
        say(f"removed the run's {len(removal.removed.topics)} topics and {len(removal.removed.groups)} "
            f"consumer groups (prefix {run.prefix})")


def _interrupt(signum: int, _frame: FrameType | None) -> None:
    """SIGTERM as Ctrl-C: either way the bench unwinds through its finally blocks."""
    raise KeyboardInterrupt(signal.Signals(signum).name)


def _patient_interrupt() -> SignalHandler:
    interrupts = [0]

    def handler(signum: int, frame: FrameType | None) -> None:
        interrupts[0] += 1
        if interrupts[0] > 1:
            _interrupt(signum, frame)
        say("stopping the bench's processes and removing its topics; interrupt again to leave them")

    return handler


@contextmanager
def _handling_signals(handler: SignalHandler) -> Iterator[None]:
    """SIGINT and SIGTERM go to ``handler`` meanwhile (only the main thread may set handlers)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    for sig in previous:
        signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old if old is not None else signal.SIG_DFL)

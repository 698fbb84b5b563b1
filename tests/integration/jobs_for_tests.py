"""Entrypoints for python jobs in tests: importable by the worker (its cwd is the repository root)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from jobstream.worker.progress import report


def greet(name: str, punctuation: str = "!") -> dict[str, Any]:
    print(f"greeting {name}")
    return {"greeting": f"hello {name}{punctuation}", "execution_id": os.environ.get("JOBSTREAM_EXECUTION_ID")}


def fail(message: str) -> None:
    raise ValueError(message)


def big(size: int) -> str:
    return "x" * size


def not_json() -> object:
    return {1, 2}


def with_progress(steps: int) -> int:
    for step in range(1, steps + 1):
        report(100 * step / steps, f"step {step} of {steps}")
    return steps


async def double(value: int) -> int:
    return value * 2


def wait_for_file(path: str, timeout_s: float = 60) -> str:
    """Block until ``path`` exists (the test's signal), printing as it starts."""
    print("waiting", flush=True)
    deadline = time.monotonic() + timeout_s
    while not Path(path).exists():
        if time.monotonic() > deadline:
            raise TimeoutError(path)
        time.sleep(0.02)  # the job's own polling interval
    return "released"


def noop() -> None:
    """The cheapest job: what an end-to-end benchmark runs."""


def spin(seconds: float) -> int:
    """Busy in Python bytecode until ``seconds`` pass: interruptible between bytecodes."""
    deadline, turns = time.monotonic() + seconds, 0
    while time.monotonic() < deadline:
        turns += 1
    return turns


def nap(seconds: float) -> str:
    """Blocked in C (time.sleep) for ``seconds``."""
    time.sleep(seconds)
    return "rested"


async def snooze(seconds: float) -> str:
    import asyncio

    await asyncio.sleep(seconds)
    return "rested"


def shout(text: str, copies: int = 3) -> str:
    import sys

    for n in range(copies):
        print(f"{text} {n}")
    print(f"{text} on stderr", file=sys.stderr)
    return text.upper()


def relay(suffix: str, upstream_results: dict[str, Any]) -> dict[str, Any]:
    """A dependent: what its upstreams returned (the worker passes them, as it asks), with a suffix."""
    return {"seen": upstream_results, "suffix": suffix}


def variable(name: str) -> str | None:
    """Print and return an environment variable of the job's process."""
    value = os.environ.get(name)
    print(f"{name}={value}")
    return value

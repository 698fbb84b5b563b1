"""Per-job resource limits (address space, CPU time) for child processes.

Limits are set in the child itself, never through ``preexec_fn`` (unsafe in a threaded worker:
librdkafka runs threads). Shell jobs are started through ``python -m jobstream.worker.limits``,
which sets the limits and execs the program; the python runner sets them before importing the
job's code.
"""

from __future__ import annotations

import os
import resource
import sys

MIB = 1024 * 1024
CPU_HARD_GRACE_S = 1  # SIGXCPU at the soft limit; SIGKILL one second later if it ignores that


def limit_argv(argv: list[str], memory_limit_mb: int | None, cpu_limit_s: int | None,
               python: str = sys.executable) -> list[str]:
    """``argv`` prefixed with the launcher when any limit is set; unchanged otherwise."""
    flags: list[str] = []
    if memory_limit_mb is not None:
        flags += ["--memory-mb", str(memory_limit_mb)]
    if cpu_limit_s is not None:
        flags += ["--cpu-s", str(cpu_limit_s)]
    return [python, "-m", "jobstream.worker.limits", *flags, "--", *argv] if flags else list(argv)


def apply_limits(memory_limit_mb: int | None, cpu_limit_s: int | None) -> None:
    """Set RLIMIT_AS and RLIMIT_CPU of the calling process (and of what it execs)."""
    if memory_limit_mb is not None:
        size = max(int(memory_limit_mb), 1) * MIB
        resource.setrlimit(resource.RLIMIT_AS, (size, size))
    if cpu_limit_s is not None:
        soft = max(int(cpu_limit_s), 1)
        resource.setrlimit(resource.RLIMIT_CPU, (soft, soft + CPU_HARD_GRACE_S))


def parse_args(args: list[str]) -> tuple[int | None, int | None, list[str]]:
    """(memory_limit_mb, cpu_limit_s, program argv) from ``[--memory-mb N] [--cpu-s S] -- argv...``."""
    memory = cpu = None
    while args and args[0] != "--":
        if len(args) < 2 or args[0] not in ("--memory-mb", "--cpu-s"):
            raise ValueError(f"unexpected arguments: {args}")
        flag, value, args = args[0], int(args[1]), args[2:]
        if flag == "--memory-mb":
            memory = value
        else:
            cpu = value
    if len(args) < 2:
        raise ValueError("expected -- and a program to run")
    return memory, cpu, args[1:]


def main(args: list[str]) -> int:
    program = args[args.index("--") + 1] if "--" in args[:-1] else "the program"
    try:
        memory, cpu, argv = parse_args(args)
        apply_limits(memory, cpu)
        os.execvp(argv[0], argv)
    except (OSError, ValueError) as error:
        print(f"jobstream: could not start {program}: {error}", file=sys.stderr)
        return 127  # the shell's code for a command that could not run
    return 0  # not reached: exec replaced this process


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

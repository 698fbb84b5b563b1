"""Progress reporting from inside a job: one recognisable line on stdout.

A job prints ``##jobstream[progress] 42 copying files`` (percent, then an optional message; ``-``
for an unknown percent); the worker recognises the line in the output it streams and reports it
as a ReportProgress command. Python jobs call ``report(42, "copying files")``. This module is
imported by user code in the job's own process: keep it free of heavy imports.
"""

from __future__ import annotations

import math
import sys
from typing import NamedTuple, TextIO

PREFIX = "##jobstream[progress]"
MAX_MESSAGE = 500


class Progress(NamedTuple):
    percent: float | None
    message: str | None


def format_line(percent: float | None, message: str = "") -> str:
    """The line ``report`` prints (without its newline)."""
    number = "-" if percent is None else f"{min(max(float(percent), 0.0), 100.0):g}"
    text = " ".join(message.split())  # one line, whatever the message held
    return f"{PREFIX} {number} {text}".rstrip()


def report(percent: float | None, message: str = "", stream: TextIO | None = None) -> None:
    """Report progress of the running job: ``percent`` 0..100 (None if unknown) and a short message."""
    out = stream or sys.stdout
    out.write(format_line(percent, message) + "\n")
    out.flush()


def parse_line(line: str) -> Progress | None:
    """The progress a line reports, or None if it is an ordinary line."""
    if not line.startswith(PREFIX):
        return None
    rest = line[len(PREFIX):].strip()
    head, _, tail = rest.partition(" ")
    percent: float | None
    if head == "-":
        percent = None
    else:
        try:
            percent = float(head)
        except ValueError:
            return Progress(None, rest[:MAX_MESSAGE] or None)  # no number: all of it is the message
        if not math.isfinite(percent):
            return Progress(None, tail.strip()[:MAX_MESSAGE] or None)
        percent = min(max(percent, 0.0), 100.0)
    return Progress(percent, tail.strip()[:MAX_MESSAGE] or None)

"""The logging of every jobstream process, set up once at its entry point (``jobstream/cli.py``).

Quiet by default: jobstream's own lines at INFO (one line at start saying what the process is,
where it listens and its topics), the libraries' (Kafka clients, faust, uvicorn's access lines,
httpx) only from WARNING. ``JOBSTREAM_LOG_FORMAT=json`` writes one JSON object a line, with
``job_id``, ``command_id``, ``execution_id`` and ``worker_id`` when the record has them: passed
as ``extra=``, or set around a piece of work with ``log_context``.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import re
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from types import MappingProxyType

FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# uvicorn.access too; librdkafka's own lines come through the "librdkafka" logger (kafka_io's configs).
LIBRARY_LOGGERS = ("aiokafka", "kafka", "faust", "mode", "uvicorn", "httpx", "httpcore", "librdkafka")
REPEAT_WINDOW_S = 30.0
# Loggers that warn once per failed attempt: the outage they belong to is logged by its gate.
PER_ATTEMPT_LOGGERS = ("psycopg.pool",)
CONTEXT_FIELDS = ("job_id", "command_id", "execution_id", "worker_id")

# An immutable default: every context that never set one shares it.
_context: contextvars.ContextVar[Mapping[str, str]] = contextvars.ContextVar(
    "jobstream_log_context", default=MappingProxyType({}))


@contextlib.contextmanager
def log_context(**fields: str | None) -> Iterator[None]:
    """Records logged inside (in this task or thread, and the tasks it starts) carry these fields."""
    token = _context.set({**_context.get(), **{k: v for k, v in fields.items() if v is not None}})
    try:
        yield
    finally:
        _context.reset(token)


def context_fields(record: logging.LogRecord) -> dict[str, str]:
    """The record's job_id, command_id, ...: its own (``extra=``) over the surrounding ``log_context``."""
    fields = dict(_context.get())
    fields.update({name: str(value) for name in CONTEXT_FIELDS if (value := getattr(record, name, None)) is not None})
    return {name: fields[name] for name in CONTEXT_FIELDS if name in fields}


class JsonFormatter(logging.Formatter):
    """One JSON object a line, for log shippers: time, level, logger, process, message, context."""

    def __init__(self, process: str) -> None:
        super().__init__()
        self.process = process

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname, "logger": record.name, "process": self.process,
            "message": record.getMessage(), **context_fields(record)}
        if record.exc_info:
            document["error"] = self.formatException(record.exc_info)
        return json.dumps(document, default=str)


class RepeatedLines(logging.Filter):
    """A library's line repeated within ``window_s`` (same logger, same words: numbers aside) is
    counted instead of written, and the first one after the window says how many were left out.
    A client library retrying a lost broker writes one line per attempt, several a second."""

    MAX_KINDS = 1000  # distinct lines remembered; past it the memory starts afresh

    def __init__(self, window_s: float = REPEAT_WINDOW_S, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.window_s, self.clock = window_s, clock
        self._seen: dict[tuple[str, str], list[float]] = {}  # kind -> [written at, left out since]

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith("jobstream"):
            return True
        kind = (record.name, re.sub(r"\d+", "#", record.getMessage()))
        now = self.clock()
        seen = self._seen.get(kind)
        if seen is not None and now - seen[0] < self.window_s:
            seen[1] += 1
            return False
        if seen is not None and seen[1]:
            record.msg, record.args = f"{record.getMessage()} ({int(seen[1])} like it left out)", ()
        if len(self._seen) >= self.MAX_KINDS:
            self._seen.clear()
        self._seen[kind] = [now, 0]
        return True


def make_handler(process: str, log_format: str = "text") -> logging.Handler:
    """The one handler of a process: stderr, text or JSON, libraries' repeated lines left out."""
    if log_format not in FORMATS:
        raise ValueError(f"JOBSTREAM_LOG_FORMAT must be one of {', '.join(FORMATS)}, got {log_format!r}")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(process) if log_format == "json" else logging.Formatter(TEXT_FORMAT))
    handler.addFilter(RepeatedLines())
    return handler


def dict_config(process: str, log_format: str, level: int = logging.INFO) -> dict[str, object]:
    """The same set-up as a ``logging.config.dictConfig`` document, for a library that insists on
    configuring logging itself (faust's worker): its lines then look like every other process's."""
    return {"version": 1, "disable_existing_loggers": False,
            "handlers": {"jobstream": {"()": make_handler, "process": process, "log_format": log_format}},
            "root": {"level": level, "handlers": ["jobstream"]},
            "loggers": {name: {"level": logging.WARNING} for name in LIBRARY_LOGGERS}}


def configure_logging(process: str, log_format: str = "text", level: int = logging.INFO) -> None:
    """Set up this process's logging; ValueError for a format that is not text or json."""
    handler = make_handler(process, log_format)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # jobstream's own lines keep this handler even where faust later replaces the root logger's
    own = logging.getLogger("jobstream")
    own.handlers[:] = [handler]
    own.setLevel(level)
    own.propagate = False
    for name in LIBRARY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    for name in PER_ATTEMPT_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)

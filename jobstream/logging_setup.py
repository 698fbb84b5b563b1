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
import sys
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from types import MappingProxyType

FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
LIBRARY_LOGGERS = ("aiokafka", "kafka", "faust", "mode", "uvicorn", "httpx", "httpcore")  # uvicorn.access too
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


def configure_logging(process: str, log_format: str = "text", level: int = logging.INFO) -> None:
    """Set up this process's logging; ValueError for a format that is not text or json."""
    if log_format not in FORMATS:
        raise ValueError(f"JOBSTREAM_LOG_FORMAT must be one of {', '.join(FORMATS)}, got {log_format!r}")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(process) if log_format == "json" else logging.Formatter(TEXT_FORMAT))
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

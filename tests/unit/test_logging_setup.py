"""Logging set-up: libraries quiet, jobstream's own lines kept, JSON lines with the job's fields."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator

import pytest

from jobstream.logging_setup import JsonFormatter, configure_logging, log_context


@pytest.fixture
def restored_logging() -> Iterator[None]:
    """configure_logging changes process-wide loggers: put them back afterwards."""
    names = ["", "jobstream", "aiokafka", "faust", "mode", "uvicorn", "httpx", "kafka", "httpcore"]
    saved = {n: (logging.getLogger(n).handlers[:], logging.getLogger(n).level, logging.getLogger(n).propagate)
             for n in names}
    yield
    for name, (handlers, level, propagate) in saved.items():
        logger = logging.getLogger(name)
        logger.handlers[:], logger.level, logger.propagate = handlers, level, propagate


def record(message: str, **extra: object) -> logging.LogRecord:
    made = logging.LogRecord("jobstream.worker.process", logging.INFO, __file__, 1, message, None, None)
    made.__dict__.update(extra)
    return made


def test_a_json_line_has_the_record_s_fields_and_those_of_its_context() -> None:
    formatter = JsonFormatter("worker")
    with log_context(job_id="j-1", worker_id="w-1"):
        with log_context(execution_id="j-1.2", command_id=None):
            line = json.loads(formatter.format(record("cancelling", command_id="j-1.2:finished")))
        outer = json.loads(formatter.format(record("between")))
    after = json.loads(formatter.format(record("idle")))
    assert line["message"] == "cancelling" and line["level"] == "INFO" and line["process"] == "worker"
    assert line["logger"] == "jobstream.worker.process" and line["ts"].endswith("+00:00")
    assert {k: line[k] for k in ("job_id", "command_id", "execution_id", "worker_id")} == {
        "job_id": "j-1", "command_id": "j-1.2:finished", "execution_id": "j-1.2", "worker_id": "w-1"}
    assert (outer["job_id"], outer["worker_id"]) == ("j-1", "w-1") and "execution_id" not in outer
    assert not {"job_id", "command_id", "execution_id", "worker_id"} & set(after)


def test_an_exception_is_kept_in_the_json_line() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        failed = logging.LogRecord("jobstream", logging.ERROR, __file__, 1, "failed", None, sys.exc_info())
    assert "ValueError: boom" in json.loads(JsonFormatter("api").format(failed))["error"]


def test_libraries_are_quiet_below_warning_and_jobstream_speaks(restored_logging: None,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    stream = io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    configure_logging("dispatcher", "json")
    logging.getLogger("aiokafka.consumer").info("joined group")
    logging.getLogger("uvicorn.access").info('"GET /v1/jobs HTTP/1.1" 200')
    logging.getLogger("faust.transport").warning("slow")
    logging.getLogger("jobstream.streams.dispatcher").info("dispatcher recovered 0 ready executions")
    logging.getLogger().handlers.clear()  # as faust does: jobstream's own lines still come out
    logging.getLogger("jobstream.streams.dispatcher").info("still here")
    printed = [json.loads(line)["message"] for line in stream.getvalue().splitlines()]
    assert printed == ["slow", "dispatcher recovered 0 ready executions", "still here"]


def test_an_unknown_format_is_refused_naming_the_variable(restored_logging: None) -> None:
    with pytest.raises(ValueError, match="JOBSTREAM_LOG_FORMAT must be one of text, json, got 'yaml'"):
        configure_logging("api", "yaml")

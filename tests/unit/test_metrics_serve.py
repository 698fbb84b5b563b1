"""A metrics port that another process holds costs the metrics, not the process."""

from __future__ import annotations

import logging
import socket

import pytest

from jobstream.streams import metrics


def test_a_taken_metrics_port_is_logged_and_the_process_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        with caplog.at_level(logging.ERROR, logger=metrics.__name__):
            metrics.serve(taken)  # does not raise
    assert f"port {taken} cannot be bound" in caplog.text

"""A local HTTP server for HTTP tasks to call (a fixture of the integration tests)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@pytest.fixture
def web() -> Iterator[str]:
    """A local HTTP server: GET /thing answers JSON, GET /authorization the Authorization header it
    got (as JSON), POST /echo answers 201 with the body it got."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            if self.path == "/authorization":
                self._answer(200, json.dumps({"authorization": self.headers.get("authorization")}).encode())
                return
            self._answer(200, json.dumps({"thing": 42, "agent": self.headers.get("x-test", "")}).encode())

        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            self._answer(201, body)

        def _answer(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    thread.join(5)

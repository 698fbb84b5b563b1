"""An in-process stand-in for a schema registry's two endpoints that the codec uses, for unit
tests. ``tests/registry_contract.py`` holds it and the real registry (Apicurio) to the same checks."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit


class StubRegistry:
    """The two endpoints we use, with the real registry's id semantics (same schema -> same id)."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}
        self.subjects: dict[str, list[int]] = {}
        self.requests: list[tuple[str, str]] = []
        self.fail_with: int | None = None

    def register(self, subject: str, schema: str) -> int:
        schema_id = self.ids.setdefault(schema, len(self.ids) + 1)
        versions = self.subjects.setdefault(subject, [])
        if schema_id not in versions:
            versions.append(schema_id)
        return schema_id

    def schema(self, schema_id: int) -> str | None:
        return next((s for s, i in self.ids.items() if i == schema_id), None)


def _handler(current: list[StubRegistry]) -> type[BaseHTTPRequestHandler]:
    """Handler serving whichever stub is current[0] (one server, a fresh stub per test)."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # keep test output clean
            pass

        def _reply(self, status: int, body: dict[str, Any]) -> None:
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/vnd.schemaregistry.v1+json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_POST(self) -> None:  # noqa: N802
            stub = current[0]
            stub.requests.append(("POST", self.path))
            parts = urlsplit(self.path).path.split("/")  # /subjects/{subject}/versions?normalize=...
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if stub.fail_with:
                return self._reply(stub.fail_with, {"error_code": stub.fail_with, "message": "nope"})
            if len(parts) != 4 or parts[1] != "subjects" or parts[3] != "versions":
                return self._reply(404, {"error_code": 404, "message": "no route"})
            json.loads(body["schema"])  # the real registry rejects invalid JSON too
            self._reply(200, {"id": stub.register(unquote(parts[2]), body["schema"])})

        def do_GET(self) -> None:  # noqa: N802
            stub = current[0]
            stub.requests.append(("GET", self.path))
            path = urlsplit(self.path).path
            schema = stub.schema(int(path.rsplit("/", 1)[1])) if path.startswith("/schemas/ids/") else None
            if schema is None:
                return self._reply(404, {"error_code": 40403, "message": "Schema not found"})
            self._reply(200, {"schema": schema})

    return Handler


@contextmanager
def serving() -> Iterator[tuple[list[StubRegistry], str]]:
    """A server on a free port answering from whichever stub is ``current[0]``, and its URL."""
    current = [StubRegistry()]
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(current))
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield current, f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()

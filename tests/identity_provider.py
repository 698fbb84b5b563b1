"""A stand-in identity provider for the tests: signing keys made with ``cryptography`` and a JWKS
served over HTTP on a free loopback port, whose key set, availability and pace a test controls."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

ISSUER = "https://idp.example.test"
AUDIENCE = "jobstream"


@dataclass
class SigningKey:
    kid: str
    algorithm: str  # RS256 or ES256
    private: Any = field(repr=False)

    @classmethod
    def make(cls, kid: str, algorithm: str) -> SigningKey:
        private = (rsa.generate_private_key(public_exponent=65537, key_size=2048) if algorithm == "RS256"
                   else ec.generate_private_key(ec.SECP256R1()))
        return cls(kid, algorithm, private)

    def jwk(self) -> dict[str, Any]:
        to_jwk = RSAAlgorithm.to_jwk if self.algorithm == "RS256" else ECAlgorithm.to_jwk
        return {**to_jwk(self.private.public_key(), as_dict=True), "kid": self.kid, "use": "sig"}

    def token(self, *grants: str, subject: str = "alice", ttl: timedelta = timedelta(minutes=5),
              issuer: str | None = ISSUER, audience: str | None = AUDIENCE, kid: str | None = None) -> str:
        claims: dict[str, Any] = {"sub": subject, "permissions": list(grants), "exp": datetime.now(UTC) + ttl}
        claims |= {"iss": issuer} if issuer else {}
        claims |= {"aud": audience} if audience else {}
        return jwt.encode(claims, self.private, algorithm=self.algorithm, headers={"kid": kid or self.kid})


@dataclass
class Provider:
    """The JWKS at ``url``: it serves ``keys``, or 503 while ``down``; a request sets ``asked``, then
    waits while ``gate`` is clear. ``fetches`` counts the requests."""

    url: str
    keys: list[dict[str, Any]]
    down: bool = False
    asked: threading.Event = field(default_factory=threading.Event)
    gate: threading.Event = field(default_factory=threading.Event)
    fetches: int = 0

    def publish(self, *keys: SigningKey) -> None:
        self.keys[:] = [key.jwk() for key in keys]


@contextmanager
def jwks_provider(*keys: SigningKey) -> Iterator[Provider]:
    provider = Provider("", [key.jwk() for key in keys])
    provider.gate.set()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            provider.asked.set()
            provider.gate.wait(30)
            provider.fetches += 1
            if provider.down:
                self.send_error(503)
                return
            body = json.dumps({"keys": provider.keys}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    provider.url = f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), name="test-jwks", daemon=True)
    thread.start()
    try:
        yield provider
    finally:
        provider.gate.set()
        server.shutdown()
        server.server_close()

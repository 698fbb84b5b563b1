"""HTTPS: the certificate the API serves, and the CAs its clients (the CLI, the SDK, the API's own
JWKS fetches) trust besides the system's."""

from __future__ import annotations

import ssl
from pathlib import Path


def trusting(ca_file: Path | str | None) -> ssl.SSLContext | None:
    """A client context that trusts ``ca_file``'s CAs (PEM) as well as the system's roots (which
    ``SSL_CERT_FILE`` may name); None without one, for the client's own default."""
    if ca_file is None:
        return None
    context = ssl.create_default_context(cafile=str(ca_file))
    context.load_default_certs()
    return context


def server_files(cert: Path | None, key: Path | None) -> tuple[Path, Path] | None:
    """The certificate chain and private key to serve HTTPS with: both, or neither (plain HTTP)."""
    if (cert is None) != (key is None):
        raise ValueError("--tls-cert and --tls-key go together: give both, or neither")
    if cert is None or key is None:
        return None
    for path in (cert, key):
        if not path.is_file():
            raise ValueError(f"{path} is not a readable file")
    return cert, key

"""Worker reports bound to their worker id: each report a worker sends to the commands topic
carries, in a Kafka header, an HMAC-SHA256 of its exact bytes under that worker's report key.

A worker's key is derived from the deployment's reports secret and its worker id, so the state
processor, which holds the secret, can check any worker's report without a table, and a worker
holds only its own key: the API hands it out to a credential allowed to act as that worker id (a
worker key bound to another id gets 403). The MAC covers the record's bytes as sent, so a worker
of another schema version signs what it encodes and nothing is re-encoded to check it.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

REPORT_MAC_HEADER = "jobstream.report-mac"
KEY_CONTEXT = b"jobstream report key\x00"  # keeps these keys apart from any other use of the secret
SECRET_BYTES = 32

HeaderList = Sequence[tuple[str, str | bytes | None]]


def worker_report_key(secret: bytes, worker_id: str) -> bytes:
    """The key ``worker_id`` signs its reports with."""
    return hmac.new(secret, KEY_CONTEXT + worker_id.encode(), hashlib.sha256).digest()


def report_mac(key: bytes, value: bytes) -> bytes:
    return hmac.new(key, value, hashlib.sha256).digest()


def mac_headers(key: bytes, value: bytes) -> list[tuple[str, str | bytes | None]]:
    """The headers a worker sends a report with."""
    return headers_of(report_mac(key, value))


def headers_of(mac: bytes) -> list[tuple[str, str | bytes | None]]:
    """The headers of a report whose MAC was made already (a finish kept in the outbox)."""
    return [(REPORT_MAC_HEADER, mac)]


def report_refusal(secret: bytes, worker_id: str, value: bytes, headers: HeaderList | None) -> str | None:
    """Why a report naming ``worker_id`` is not believed (no MAC, or not one made with that
    worker's key); None when its MAC checks out."""
    macs = [v for k, v in headers or () if k == REPORT_MAC_HEADER]
    if not macs or not isinstance(macs[-1], bytes):
        return f"a report for worker {worker_id[:200]} without its signature ({REPORT_MAC_HEADER} header)"
    if not hmac.compare_digest(macs[-1], report_mac(worker_report_key(secret, worker_id), value)):
        return f"a report for worker {worker_id[:200]} not signed with that worker's key"
    return None

"""A signing worker's report key (core/report_keys.py), asked of the API once at start with the
worker's credential, as the CLI finds it (JOBSTREAM_TOKEN or the credentials file).

The worker takes no work before it has an answer: a report it sent unsigned would be set aside.
While the API does not answer it asks again, logging the outage as a change of state.
"""

from __future__ import annotations

import base64
import logging
import time

import httpx

from jobstream.config import Settings
from jobstream.credentials import token_for
from jobstream.outage import Outage
from jobstream.sdk.client import verifying

log = logging.getLogger(__name__)
AGAIN = {429, 500, 502, 503, 504}
RETRY_S = 1.0


class ReportKeyRefused(Exception):
    """The API will not give this worker its key (its credential may not act as this worker id)."""


def fetch_report_key(settings: Settings, worker_id: str, give_up_after_s: float | None = None) -> bytes | None:
    """This worker's report key; None when the deployment does not check reports. Raises
    ReportKeyRefused on a refusal, TimeoutError past ``give_up_after_s`` (None: never)."""
    token = token_for(settings, settings.api_url)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    outage = Outage(f"the API at {settings.api_url} (asked for this worker's report key)", log)
    deadline = None if give_up_after_s is None else time.monotonic() + give_up_after_s
    with httpx.Client(base_url=settings.api_url, headers=headers, timeout=10,
                      verify=verifying(settings.ca_file)) as client:
        while True:
            answered, key, reason = _ask(client, worker_id)
            if answered:
                outage.recovered(time.monotonic())
                return key
            outage.failed(reason, time.monotonic())
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"no report key for worker {worker_id} within {give_up_after_s:.0f}s: {reason}")
            time.sleep(RETRY_S)  # the retry interval while the API is away


def _ask(client: httpx.Client, worker_id: str) -> tuple[bool, bytes | None, str]:
    """Whether the API answered, the key it gave (None: reports are not checked), and if it did
    not answer, why."""
    try:
        response = client.post(f"/v1/workers/{worker_id}/report-key")
    except httpx.HTTPError as error:
        return False, None, f"{type(error).__name__}: {error}"
    if response.status_code == 200:
        return True, base64.b64decode(response.json()["key"]), ""
    if response.status_code == 404 and str(response.json().get("type", "")).endswith("reports-unchecked"):
        return True, None, ""
    if response.status_code in AGAIN:
        return False, None, f"{response.status_code} {response.text[:200]}"
    raise ReportKeyRefused(f"the API refused worker {worker_id} its report key ({response.status_code}): "
                           f"{response.text[:300]}")

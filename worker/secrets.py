"""The secret values of an execution whose shell task has ``env_from``, asked of the API with the
worker's credential (its token for the API's URL, as the CLI finds it: JOBSTREAM_TOKEN or the
credentials file). The API answers only while the execution is leased to this worker, as its read
model shows once the start report went through: 409 until then, so the worker asks again.
The values go into the child's environment and the masker, nowhere else; never into a log line."""

from __future__ import annotations

import asyncio
import time

import httpx

from jobstream.config import Settings
from jobstream.credentials import token_for
from jobstream.sdk.client import verifying

ASK_FOR_S = 30.0  # the read model shows a start within a second or so; past this the execution fails
RETRY_S = 0.2
AGAIN = {409, 429, 502, 503, 504}


class SecretsRefused(Exception):
    """The API would not give the values (no such secret, shredded, no KEK, not this worker's): the
    execution fails with this message, which never holds a value."""


class SecretSource:
    def __init__(self, settings: Settings, worker_id: str, ask_for_s: float = ASK_FOR_S) -> None:
        self.url, self.worker_id, self.ask_for_s = settings.api_url, worker_id, ask_for_s
        self.verify = verifying(settings.ca_file)  # an API serving HTTPS with a private CA
        token = token_for(settings, settings.api_url)
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    async def values(self, execution_id: str) -> dict[str, str]:
        """Each env_from variable of the execution with its value."""
        body = {"execution_id": execution_id, "worker_id": self.worker_id}
        deadline = time.monotonic() + self.ask_for_s
        async with httpx.AsyncClient(base_url=self.url, headers=self.headers, timeout=10, verify=self.verify) as client:
            while True:
                status, detail, values = await self._ask(client, body)
                if values is not None:
                    return values
                if status not in AGAIN or time.monotonic() > deadline:
                    raise SecretsRefused(f"the API refused this execution's secrets ({status}): {detail}")
                await asyncio.sleep(RETRY_S)  # the retry interval of a deadline-bounded wait

    async def _ask(self, client: httpx.AsyncClient, body: dict[str, str]
                   ) -> tuple[int, str, dict[str, str] | None]:
        try:
            response = await client.post("/v1/secrets:reveal", json=body)
        except httpx.HTTPError as error:
            return 503, f"{type(error).__name__}: {error}", None
        if response.status_code == 200:
            return 200, "", dict(response.json()["values"])
        try:
            detail = str(response.json().get("detail", ""))
        except ValueError:
            detail = response.text[:200]
        return response.status_code, detail, None

"""``jobstream.AsyncClient``: the same operations as ``Client``, for asyncio code (the same flows)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import httpx
from tenacity import AsyncRetrying

from jobstream.api.routes_batch import BatchAnswer
from jobstream.api.views import JobView, LogChunkView
from jobstream.sdk import flows
from jobstream.sdk.client import DEFAULT_URL, api_from_env, auth_headers, verifying
from jobstream.sdk.errors import ClientError, checked
from jobstream.sdk.flows import Call, Done, Flow, Item, Pause, Step, advance
from jobstream.sdk.retries import RETRIED_STATUSES, Busy, RetryPolicy

T = TypeVar("T")


class AsyncClient:
    """``Client``'s methods as coroutines; ``list`` and ``logs`` are async iterators."""

    def __init__(self, base_url: str = DEFAULT_URL, *, timeout_s: float = 30.0, retry: RetryPolicy | None = None,
                 transport: httpx.AsyncBaseTransport | None = None,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 clock: Callable[[], float] = time.monotonic, token: str | None = None,
                 namespace: str | None = None, ca_file: str | Path | None = None) -> None:
        self.base_url, self.retry = base_url, retry or RetryPolicy()
        self._http = httpx.AsyncClient(base_url=base_url, timeout=timeout_s, transport=transport,
                                       headers=auth_headers(token, namespace), verify=verifying(ca_file))
        self._sleep, self._clock = sleep, clock

    @classmethod
    def from_env(cls, **options: Any) -> AsyncClient:
        """A client of ``JOBSTREAM_API_URL`` with the token the CLI would present there, trusting
        ``JOBSTREAM_CA_FILE``'s CAs."""
        url, defaults = api_from_env()
        return cls(url, **{**defaults, **options})

    async def submit(self, task: Mapping[str, Any], *, name: str | None = None, queue: str | None = None,
                     priority: int | None = None, labels: Mapping[str, str] | None = None,
                     idempotency_key: str | None = None, **fields: Any) -> JobView:
        body = flows.submission(task, name=name, queue=queue, priority=priority, labels=labels,
                                idempotency_key=idempotency_key, **fields)
        return await self._run(flows.submit(body))

    async def submit_batch(self, jobs: Sequence[Mapping[str, Any]], *,
                           idempotency_key: str | None = None) -> BatchAnswer:
        return await self._run(flows.submit_batch(jobs, idempotency_key))

    async def get(self, job_id: str) -> JobView:
        return await self._run(flows.get(job_id))

    async def wait(self, job_id: str, timeout_s: float | None = None) -> JobView:
        return await self._run(flows.wait(job_id, timeout_s, self._clock))

    async def cancel(self, job_id: str, reason: str | None = None) -> JobView:
        return await self._run(flows.cancel(job_id, reason))

    def list(self, *, status: Sequence[str] | None = None, queue: str | None = None, name: str | None = None,
             labels: Mapping[str, str] | None = None, parent_job_id: str | None = None,
             page_size: int = 100) -> AsyncIterator[JobView]:
        filters = {"status": list(status or []), "queue": queue, "name": name, "parent_job_id": parent_job_id,
                   "label": [f"{k}={v}" for k, v in (labels or {}).items()]}
        return self._iterate(flows.list_jobs(filters, page_size))

    def logs(self, job_or_execution_id: str, *, follow: bool = False,
             after_seq: int = 0) -> AsyncIterator[LogChunkView]:
        return self._iterate(flows.logs(job_or_execution_id, follow, self._clock, after_seq=after_seq))

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _send(self, call: Call) -> Any:
        return await AsyncRetrying(**self.retry.tenacity_kwargs(), sleep=self._sleep)(self._send_once, call)

    async def _send_once(self, call: Call) -> Any:
        timeout = httpx.USE_CLIENT_DEFAULT if call.timeout_s is None else call.timeout_s
        response = await self._http.request(call.method, call.path, params=call.params, json=call.json,
                                            headers=dict(call.headers), timeout=timeout)
        if response.status_code in RETRIED_STATUSES:
            raise Busy(response)
        return checked(response)

    async def _answer(self, flow: Flow[Any], call: Call) -> Step | Done:
        """The flow's next step after sending ``call``; an error is raised inside the flow."""
        try:
            answer = await self._send(call)
        except Busy as busy:  # retries used up
            return advance(flow, error=ClientError(f"the API is busy: {busy}", busy.response.status_code))
        except httpx.HTTPError as error:
            return advance(flow, error=ClientError(f"cannot reach the API at {self.base_url}: {error}"))
        except ClientError as error:
            return advance(flow, error=error)
        return advance(flow, answer)

    async def _run(self, flow: Flow[T]) -> T:
        step = advance(flow)
        while not isinstance(step, Done):
            if isinstance(step, Pause):
                await self._sleep(step.seconds)
                step = advance(flow)
            else:
                assert isinstance(step, Call), step
                step = await self._answer(flow, step)
        return step.value  # type: ignore[no-any-return]

    async def _iterate(self, flow: Flow[None]) -> AsyncIterator[Any]:
        step = advance(flow)
        while not isinstance(step, Done):
            if isinstance(step, Item):
                yield step.value
                step = advance(flow)
            elif isinstance(step, Pause):
                await self._sleep(step.seconds)
                step = advance(flow)
            else:
                step = await self._answer(flow, step)

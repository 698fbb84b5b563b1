"""``jobstream.Client``: the HTTP API from Python, synchronously.

    client = Client("http://127.0.0.1:8000")
    job = client.submit(shell("echo", "hi"))
    done = client.wait(job.job_id)
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import httpx
from tenacity import Retrying

from jobstream.api.routes_batch import BatchAnswer
from jobstream.api.views import JobView, LogChunkView
from jobstream.sdk import flows
from jobstream.sdk.errors import ClientError, checked
from jobstream.sdk.flows import Call, Done, Flow, Item, Pause, Step, advance
from jobstream.sdk.retries import RETRIED_STATUSES, Busy, RetryPolicy
from jobstream.tls import trusting

T = TypeVar("T")
DEFAULT_URL = "http://127.0.0.1:8000"


def api_from_env() -> tuple[str, dict[str, Any]]:
    """``JOBSTREAM_API_URL``, and the client options the CLI has there: its token (``JOBSTREAM_TOKEN``,
    else its credentials file: what `jobstream run` wrote on first start) and ``JOBSTREAM_CA_FILE``."""
    from jobstream.config import Settings
    from jobstream.credentials import token_for

    settings = Settings.from_env()
    return settings.api_url, {"token": token_for(settings, settings.api_url), "ca_file": settings.ca_file}


def verifying(ca_file: str | Path | None) -> ssl.SSLContext | bool:
    """How the client checks an https API's certificate: against the system's CAs (httpx's own, or
    ``SSL_CERT_FILE``'s), or these and ``ca_file``'s."""
    return trusting(ca_file) or True


def auth_headers(token: str | None, namespace: str | None) -> dict[str, str]:
    """A bearer token (an API key or a JWT) and the namespace to act in, when given."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return {**headers, "X-Jobstream-Namespace": namespace} if namespace else headers


class Client:
    """The API's operations as typed methods. Calls that change something carry an idempotency key
    made per call, so a retry after a 429, a 503 or a lost connection cannot do it twice."""

    def __init__(self, base_url: str = DEFAULT_URL, *, token: str | None = None, namespace: str | None = None,
                 timeout_s: float = 30.0, retry: RetryPolicy | None = None,
                 transport: httpx.BaseTransport | None = None, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic, ca_file: str | Path | None = None) -> None:
        self.base_url, self.retry = base_url, retry or RetryPolicy()
        self._http = httpx.Client(base_url=base_url, timeout=timeout_s, transport=transport,
                                  headers=auth_headers(token, namespace), verify=verifying(ca_file))
        self._sleep, self._clock = sleep, clock

    @classmethod
    def from_env(cls, **options: Any) -> Client:
        """A client of ``JOBSTREAM_API_URL`` with the token the CLI would present there, trusting
        ``JOBSTREAM_CA_FILE``'s CAs."""
        url, defaults = api_from_env()
        return cls(url, **{**defaults, **options})

    def submit(self, task: Mapping[str, Any], *, name: str | None = None, queue: str | None = None,
               priority: int | None = None, labels: Mapping[str, str] | None = None,
               idempotency_key: str | None = None, **fields: Any) -> JobView:
        """Submit one job (``task`` from ``shell``, ``python`` or ``http``); ``fields`` are the API's others
        (``retry``, ``schedule``, ``depends_on``, ``timeout_s``, ``requirements``, ...)."""
        body = flows.submission(task, name=name, queue=queue, priority=priority, labels=labels,
                                idempotency_key=idempotency_key, **fields)
        return self._run(flows.submit(body))

    def submit_batch(self, jobs: Sequence[Mapping[str, Any]], *, idempotency_key: str | None = None) -> BatchAnswer:
        """Submit jobs (``POST /v1/jobs`` bodies with an optional ``ref``) atomically: all or none."""
        return self._run(flows.submit_batch(jobs, idempotency_key))

    def get(self, job_id: str) -> JobView:
        return self._run(flows.get(job_id))

    def wait(self, job_id: str, timeout_s: float | None = None) -> JobView:
        """The job once completed, failed or cancelled (long-polled; ``WaitTimeout`` past ``timeout_s``)."""
        return self._run(flows.wait(job_id, timeout_s, self._clock))

    def cancel(self, job_id: str, reason: str | None = None) -> JobView:
        return self._run(flows.cancel(job_id, reason))

    def list(self, *, status: Sequence[str] | None = None, queue: str | None = None, name: str | None = None,
             labels: Mapping[str, str] | None = None, parent_job_id: str | None = None,
             page_size: int = 100) -> Iterator[JobView]:
        """Jobs matching every filter given, the last submitted first, fetched a page at a time."""
        filters = {"status": list(status or []), "queue": queue, "name": name, "parent_job_id": parent_job_id,
                   "label": [f"{k}={v}" for k, v in (labels or {}).items()]}
        return self._iterate(flows.list_jobs(filters, page_size))

    def logs(self, job_or_execution_id: str, *, follow: bool = False, after_seq: int = 0) -> Iterator[LogChunkView]:
        """An execution's output chunks in order (a job's: its latest execution's); ``follow`` until it ends."""
        return self._iterate(flows.logs(job_or_execution_id, follow, self._clock, after_seq=after_seq))

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _send(self, call: Call) -> Any:
        return Retrying(**self.retry.tenacity_kwargs(), sleep=self._sleep)(self._send_once, call)

    def _send_once(self, call: Call) -> Any:
        timeout = httpx.USE_CLIENT_DEFAULT if call.timeout_s is None else call.timeout_s
        response = self._http.request(call.method, call.path, params=call.params, json=call.json,
                                      headers=dict(call.headers), timeout=timeout)
        if response.status_code in RETRIED_STATUSES:
            raise Busy(response)
        return checked(response)

    def _answer(self, flow: Flow[Any], call: Call) -> Step | Done:
        """The flow's next step after sending ``call``; an error is raised inside the flow."""
        try:
            answer = self._send(call)
        except Busy as busy:  # retries used up
            return advance(flow, error=ClientError(f"the API is busy: {busy}", busy.response.status_code))
        except httpx.HTTPError as error:
            return advance(flow, error=ClientError(f"cannot reach the API at {self.base_url}: {error}"))
        except ClientError as error:
            return advance(flow, error=error)
        return advance(flow, answer)

    def _run(self, flow: Flow[T]) -> T:
        step = advance(flow)
        while not isinstance(step, Done):
            if isinstance(step, Pause):
                self._sleep(step.seconds)
                step = advance(flow)
            else:
                assert isinstance(step, Call), step
                step = self._answer(flow, step)
        return step.value  # type: ignore[no-any-return]

    def _iterate(self, flow: Flow[None]) -> Iterator[Any]:
        step = advance(flow)
        while not isinstance(step, Done):
            if isinstance(step, Item):
                yield step.value
                step = advance(flow)
            elif isinstance(step, Pause):
                self._sleep(step.seconds)
                step = advance(flow)
            else:
                step = self._answer(flow, step)

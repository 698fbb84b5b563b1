"""What each SDK call asks the API, without doing I/O: generators that yield ``Call``, ``Pause`` and
``Item`` steps and receive the API's JSON answers. ``Client`` (sync) and ``AsyncClient`` drive the
same flows, so the two cannot drift apart, and the flows are tested without a network.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from jobstream.api.routes_batch import BatchAnswer
from jobstream.api.routes_logs import LogPage
from jobstream.api.views import JobPage, JobView
from jobstream.core.lifecycle import TERMINAL
from jobstream.sdk.errors import ClientError, WaitTimeout

T = TypeVar("T")
LONG_POLL_S = 30.0  # one :wait request's bound; the server allows up to 60
APPEAR_S = 10.0  # how long wait takes a 404 for a job not projected yet (sent straight to Kafka)
APPEAR_POLL_S = 0.2
LOG_PAGE = 1000


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    params: Mapping[str, Any] | None = None
    json: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    timeout_s: float | None = None  # beyond the client's own, for a long-poll


@dataclass(frozen=True)
class Pause:
    seconds: float


@dataclass(frozen=True)
class Item:
    value: Any


@dataclass(frozen=True)
class Done:
    value: Any


Step = Call | Pause | Item
Flow = Generator[Step, Any, T]


def advance(flow: Flow[Any], answer: Any = None, error: BaseException | None = None) -> Step | Done:
    """The flow's next step after ``answer`` (or ``error``, raised inside it), or ``Done`` with its result.
    (A coroutine may not let ``StopIteration`` through, hence this wrapper for both drivers.)"""
    try:
        return flow.throw(error) if error is not None else flow.send(answer)
    except StopIteration as stop:
        return Done(stop.value)


def new_idempotency_key() -> str:
    return f"sdk-{uuid.uuid4()}"


def submission(task: Mapping[str, Any], *, name: str | None = None, idempotency_key: str | None = None,
               **fields: Any) -> dict[str, Any]:
    """A ``POST /v1/jobs`` body; fields given as None are left out, the name defaults to the task's."""
    body = {k: v for k, v in fields.items() if v is not None}
    return {"name": name or default_name(task), "task": dict(task), **body,
            "idempotency_key": idempotency_key or new_idempotency_key()}


def default_name(task: Mapping[str, Any]) -> str:
    if task.get("type") == "python":
        return str(task.get("entrypoint", "python")).rsplit(":", 1)[-1]
    if task.get("type") == "http":
        return "http"
    argv = task.get("argv") or ["job"]
    return str(argv[0]).rsplit("/", 1)[-1]


def submit(body: dict[str, Any]) -> Flow[JobView]:
    return JobView.model_validate((yield Call("POST", "/v1/jobs", json=body)))


def submit_batch(jobs: Sequence[Mapping[str, Any]], idempotency_key: str | None) -> Flow[BatchAnswer]:
    body = {"jobs": [dict(job) for job in jobs], "idempotency_key": idempotency_key or new_idempotency_key()}
    return BatchAnswer.model_validate((yield Call("POST", "/v1/jobs:batch", json=body)))


def get(job_id: str) -> Flow[JobView]:
    return JobView.model_validate((yield Call("GET", f"/v1/jobs/{job_id}")))


def cancel(job_id: str, reason: str | None) -> Flow[JobView]:
    answer = yield Call("POST", f"/v1/jobs/{job_id}/cancel", json={"reason": reason} if reason else None)
    return JobView.model_validate(answer)


def wait(job_id: str, timeout_s: float | None, clock: Callable[[], float]) -> Flow[JobView]:
    """Long-polls ``GET /v1/jobs/{id}:wait`` until the job is terminal; ``WaitTimeout`` past ``timeout_s``.
    A job not in the read model yet (a 404) is asked for again for up to ``APPEAR_S``."""
    start = clock()
    deadline = None if timeout_s is None else start + timeout_s
    while True:
        bound = LONG_POLL_S if deadline is None else max(0.0, min(LONG_POLL_S, deadline - clock()))
        try:
            job = yield Call("GET", f"/v1/jobs/{job_id}:wait", params={"timeout_s": round(bound, 3)},
                             timeout_s=bound + 10)
        except ClientError as error:
            if error.status != 404 or clock() - start >= min(APPEAR_S, timeout_s or APPEAR_S):
                raise
            yield Pause(APPEAR_POLL_S)  # the projection's lag, bounded: not a wait for the job's end
            continue
        if job.get("status") in TERMINAL:
            return JobView.model_validate(job)
        if deadline is not None and clock() >= deadline:
            raise WaitTimeout(job, timeout_s or 0.0)


def list_jobs(filters: Mapping[str, Any], page_size: int) -> Flow[None]:
    """Every job matching ``filters``, the last submitted first, page after page."""
    params = {k: v for k, v in filters.items() if v not in (None, [], ())} | {"limit": page_size}
    while True:
        page = JobPage.model_validate((yield Call("GET", "/v1/jobs", params=params)))
        for job in page.items:
            yield Item(job)
        if not page.next_cursor:
            return
        params = params | {"cursor": page.next_cursor}


def execution_of(job_or_execution_id: str) -> Flow[str]:
    """A job's latest execution; anything that is not a job is taken for an execution id."""
    try:
        job = yield Call("GET", f"/v1/jobs/{job_or_execution_id}")
    except ClientError as error:
        if error.status == 404:
            return job_or_execution_id
        raise
    if not job.get("execution_id"):
        raise ClientError(f"job {job_or_execution_id} has not run yet (it is {job.get('status')})")
    return str(job["execution_id"])


def follow_done(page: Mapping[str, Any], idle_s: float, grace_s: float) -> bool:
    """Whether a follower of ``GET /v1/executions/{id}/logs`` has read everything there will be: the eof
    marker, or an execution that ended and sent nothing for ``grace_s`` (a worker killed -9 writes no eof)."""
    return bool(page.get("complete")) or (bool(page.get("finished")) and idle_s >= grace_s)


def logs(job_or_execution_id: str, follow: bool, clock: Callable[[], float], *, after_seq: int = 0,
         poll_s: float = 0.5, grace_s: float = 30.0) -> Flow[None]:
    """An execution's chunks in order (``LogChunkView``); following, until it has no more to come."""
    execution_id = yield from execution_of(job_or_execution_id)
    last_new = clock()
    while True:
        answer = yield Call("GET", f"/v1/executions/{execution_id}/logs",
                            params={"after_seq": after_seq, "limit": LOG_PAGE})
        page = LogPage.model_validate(answer)
        for chunk in page.items:
            yield Item(chunk)
        after_seq = page.next_after_seq
        if page.items:
            last_new = clock()
        if len(page.items) == LOG_PAGE:
            continue  # more is already there
        if not follow or follow_done(answer, clock() - last_new, grace_s):
            return
        yield Pause(poll_s)  # the polling interval of a follower; logs have no push channel

"""The SDK's clients against a scripted API (httpx's MockTransport): what they send, how they retry,
wait, page and follow; and ``@task``. The real API is exercised by tests/integration/test_sdk_examples.py."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

import jobstream
from jobstream import AsyncClient, Client, ClientError, RetryPolicy, WaitTimeout, shell
from jobstream.sdk.tasks import entrypoint_of

JOB = {"job_id": "j1", "name": "echo", "status": "queued"}
Handler = Callable[[httpx.Request], httpx.Response]
FAST = RetryPolicy(attempts=4, initial_s=0.01, max_s=0.05)


def client(handler: Handler, **options: Any) -> Client:
    return Client("http://api.test", transport=httpx.MockTransport(handler), retry=FAST, sleep=lambda _: None,
                  **options)


def scripted(*answers: tuple[int, Any], headers: dict[str, str] | None = None) -> tuple[list[httpx.Request], Handler]:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        status, body = answers[min(len(seen), len(answers)) - 1]
        return httpx.Response(status, json=body, headers=headers or {})

    return seen, handle


def test_submit_sends_the_task_with_a_fresh_idempotency_key_and_returns_a_typed_job() -> None:
    seen, handle = scripted((201, JOB))
    job = client(handle).submit(shell("echo", "hi"), queue="q", labels={"team": "a"}, retry={"max_attempts": 2})
    body = json.loads(seen[0].content)
    assert (seen[0].method, seen[0].url.path) == ("POST", "/v1/jobs")
    assert body["task"] == {"type": "shell", "argv": ["echo", "hi"], "env": {}}
    assert body["name"] == "echo" and body["queue"] == "q" and body["retry"] == {"max_attempts": 2}
    assert "priority" not in body  # not given: the API's default
    assert body["idempotency_key"].startswith("sdk-")
    assert job.job_id == "j1" and job.status == "queued"


def test_each_call_has_its_own_key_and_a_retry_after_429_and_503_repeats_the_same_key() -> None:
    seen, handle = scripted((429, {"title": "slow down"}), (503, {"title": "busy"}), (201, JOB), (201, JOB))
    sdk = client(handle)
    sdk.submit(shell("true"))
    sdk.submit(shell("true"))
    keys = [json.loads(r.content)["idempotency_key"] for r in seen]
    assert len(seen) == 4 and keys[0] == keys[1] == keys[2] != keys[3]


def test_retries_give_up_after_the_policy_s_attempts_with_the_api_s_status() -> None:
    seen, handle = scripted((503, {"title": "busy"}))
    with pytest.raises(ClientError) as raised:
        client(handle).get("j1")
    assert len(seen) == FAST.attempts and raised.value.status == 503


def test_retry_after_is_honoured_within_the_policy_s_cap() -> None:
    waits: list[float] = []
    _, handle = scripted((429, {}), (200, JOB), headers={"retry-after": "0.04"})
    Client("http://api.test", transport=httpx.MockTransport(handle), retry=FAST, sleep=waits.append).get("j1")
    assert waits == [pytest.approx(0.04, abs=0.011)] or waits[0] >= 0.04


def test_a_problem_is_raised_with_its_fields_and_is_not_retried() -> None:
    problem = {"title": "Unprocessable", "detail": "see errors", "errors": [{"field": "task.argv", "detail": "empty"}]}
    seen, handle = scripted((422, problem))
    with pytest.raises(ClientError, match="task.argv: empty") as raised:
        client(handle).submit(shell())
    assert len(seen) == 1 and raised.value.status == 422 and raised.value.problem == problem


def test_wait_long_polls_until_the_job_is_terminal() -> None:
    seen, handle = scripted((200, {**JOB, "status": "running"}), (200, {**JOB, "status": "completed"}))
    job = client(handle).wait("j1")
    assert job.status == "completed" and len(seen) == 2
    assert all(r.url.path == "/v1/jobs/j1:wait" and r.url.params["timeout_s"] == "30.0" for r in seen)


def test_wait_gives_up_at_its_timeout_with_the_job_as_it_last_was() -> None:
    now = [0.0]

    def handle(request: httpx.Request) -> httpx.Response:
        now[0] += float(request.url.params["timeout_s"])  # the server held the request that long
        return httpx.Response(200, json={**JOB, "status": "running"})

    with pytest.raises(WaitTimeout) as raised:
        client(handle, clock=lambda: now[0]).wait("j1", timeout_s=45)
    assert raised.value.job["status"] == "running" and now[0] == 45


def test_list_follows_the_cursor_through_every_page_with_the_filters() -> None:
    pages = [(200, {"items": [JOB, JOB], "next_cursor": "c1"}), (200, {"items": [JOB], "next_cursor": None})]
    seen, handle = scripted(*pages)
    jobs = list(client(handle).list(status=["queued"], labels={"team": "a"}, page_size=2))
    assert len(jobs) == 3
    assert [r.url.params.get("cursor") for r in seen] == [None, "c1"]
    assert seen[0].url.params.get_list("label") == ["team=a"] and seen[0].url.params["status"] == "queued"


def _log_page(seqs: list[int], *, after: int = 0, complete: bool = False, finished: bool = False) -> dict[str, Any]:
    items = [{"seq": s, "stream": "stdout", "data": f"line {s}\n", "at": "2026-01-01T12:00:00Z"}
             for s in seqs]
    return {"execution_id": "j1.1", "items": items, "next_after_seq": seqs[-1] if seqs else after,
            "complete": complete, "finished": finished}


def test_logs_follow_reads_a_job_s_latest_execution_until_its_eof() -> None:
    seen, handle = scripted((200, {**JOB, "execution_id": "j1.1"}), (200, _log_page([1])),
                            (200, _log_page([], after=1)), (200, _log_page([2], complete=True)))
    pauses: list[float] = []
    chunks = list(Client("http://api.test", transport=httpx.MockTransport(handle), retry=FAST,
                         sleep=pauses.append).logs("j1", follow=True))
    assert [c.data for c in chunks] == ["line 1\n", "line 2\n"]
    assert [r.url.params.get("after_seq") for r in seen[1:]] == ["0", "1", "1"] and len(pauses) == 2


def test_logs_of_an_execution_id_and_without_follow_stop_at_what_is_there() -> None:
    _, handle = scripted((404, {"title": "Not Found"}), (200, _log_page([1, 2])))
    assert len(list(client(handle).logs("j1.1"))) == 2


def test_the_async_client_does_the_same() -> None:
    seen, handle = scripted((503, {}), (201, JOB), (200, {**JOB, "status": "completed"}))

    async def scenario() -> list[str]:
        async def no_sleep(_: float) -> None:
            return None

        async with AsyncClient("http://api.test", transport=httpx.MockTransport(handle), retry=FAST,
                               sleep=no_sleep) as sdk:
            job = await sdk.submit(shell("true"))
            return [job.status, (await sdk.wait(job.job_id)).status]

    assert asyncio.run(scenario()) == ["queued", "completed"]
    assert json.loads(seen[0].content)["idempotency_key"] == json.loads(seen[1].content)["idempotency_key"]


def add(a: int, b: int) -> int:
    return a + b


def test_a_task_submits_its_function_by_module_and_name_through_the_client_it_was_given() -> None:
    seen, handle = scripted((201, JOB))
    adder = jobstream.task(client(handle), queue="maths", isolation="inline")(add)
    assert adder(1, 2) == 3  # still a plain function here
    adder.submit(1, 2)
    body = json.loads(seen[0].content)
    assert body["task"] == {"type": "python", "entrypoint": f"{__name__}:add", "args": [1, 2], "kwargs": {},
                            "isolation": "inline"}
    assert body["name"] == "add" and body["queue"] == "maths"
    assert adder.__module__ == __name__  # a worker allows what its module defines: the task is the function's


def test_a_function_a_worker_could_not_import_is_refused_as_a_task() -> None:
    def local() -> None: ...

    with pytest.raises(ValueError, match="top level of an importable module"):
        entrypoint_of(local)
    local.__module__ = "__main__"
    local.__qualname__ = "local"
    with pytest.raises(ValueError, match="not __main__"):
        entrypoint_of(local)


def test_importing_jobstream_does_not_load_the_sdk_until_asked() -> None:
    import subprocess
    import sys

    code = "import sys, jobstream.core.lifecycle; print('jobstream.sdk' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"


def test_wait_asks_again_for_a_job_not_projected_yet_then_gives_up_on_one_that_never_shows() -> None:
    seen, handle = scripted((404, {"title": "Not Found"}), (200, {**JOB, "status": "completed"}))
    pauses: list[float] = []
    sdk = Client("http://api.test", transport=httpx.MockTransport(handle), retry=FAST, sleep=pauses.append)
    assert sdk.wait("j1").status == "completed" and len(pauses) == 1
    now = [0.0]

    def missing(request: httpx.Request) -> httpx.Response:
        now[0] += 1
        return httpx.Response(404, json={"title": "Not Found"})

    with pytest.raises(ClientError) as raised:
        client(missing, clock=lambda: now[0]).wait("nope")
    assert raised.value.status == 404 and now[0] == 10  # APPEAR_S, not for ever


def test_a_shell_task_refers_to_secrets_by_name() -> None:
    from jobstream.api.models import ShellTaskIn

    task = shell("psql", secrets={"DB_PASSWORD": "db-password"})
    assert task["env_from"] == {"DB_PASSWORD": {"secret": "db-password"}}
    ShellTaskIn.model_validate(task)  # what the API accepts
    assert "env_from" not in shell("true")

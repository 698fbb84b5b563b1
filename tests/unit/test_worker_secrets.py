"""A worker runs a task's env_from (worker/runs.py): the start reported first, the values asked
for, given to the child only (a shell or process Python task's environment, an HTTP task's
headers), and masked in what leaves the worker; the KEK file (jobstream/secrets_admin.py) made
once, mode 0600."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import stat
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from jobstream.config import Settings
from jobstream.core.env_from import with_secret_refs
from jobstream.core.secrets_crypto import kek_of, new_key
from jobstream.infra.topics import Topics
from jobstream.schemas import Assignment, HttpTask, LogChunk, Outcome, PythonTask, ReportStarted, ShellTask, Task
from jobstream.secrets_admin import NoKek, ensure_kek, load_keks
from jobstream.worker.executors import ExecutorOptions
from jobstream.worker.executors.base import StopSignal
from jobstream.worker.runs import run_assignment
from jobstream.worker.secrets import SecretsRefused
from tests.unit.builders import T0, spec

SECRET = "hunter2-s3cr3t"
SCRIPT = 'echo "pw=$DB_PASSWORD"; echo "refs: $(env | grep -c secret:)"; exit 3'


class Recorder:
    """What the worker would send to the broker."""

    def __init__(self) -> None:
        self.topics = Topics("t")
        self.sent: list[Any] = []

    def publish(self, topic: str, key: str, record: Any, on_delivery: Any = None) -> None:
        self.sent.append(record)

    def send_command(self, command: Any, on_delivery: Any = None) -> None:
        self.sent.append(command)

    def poll(self, timeout_s: float = 0.0) -> int:
        return 0


class Source:
    def __init__(self, values: dict[str, str] | None, sent: list[Any]) -> None:
        self.given, self.sent, self.asked_after = values, sent, -1

    async def values(self, execution_id: str) -> dict[str, str]:
        self.asked_after = len([r for r in self.sent if isinstance(r, ReportStarted)])
        if self.given is None:
            raise SecretsRefused("the API refused this execution's secrets (410): its data key was deleted")
        return self.given


def assignment(script: str) -> Assignment:
    task = ShellTask(argv=["/bin/sh", "-c", script], env=with_secret_refs({"A": "1"}, {"DB_PASSWORD": "db-password"}))
    return assigned(task)


def assigned(task: Task) -> Assignment:
    return Assignment(job_id="j", execution_id="j.1", attempt=1, worker_id="w", spec=spec(task=task), assigned_at=T0)


def run(source: Source, recorder: Recorder, task: Assignment | None = None,
        options: ExecutorOptions | None = None) -> Any:
    return asyncio.run(run_assignment(recorder, "w", task or assignment(SCRIPT), StopSignal(),  # type: ignore[arg-type]
                                      options or ExecutorOptions(), source))  # type: ignore[arg-type]


def test_the_child_gets_the_values_and_nothing_leaves_the_worker_unmasked() -> None:
    recorder = Recorder()
    source = Source({"DB_PASSWORD": SECRET}, recorder.sent)
    result = run(source, recorder)
    assert source.asked_after == 1  # the start was reported first: the lease the API checks
    assert result.outcome == Outcome.FAILED and result.stdout_tail == "pw=***\nrefs: 0\n"
    logs = "".join(r.data for r in recorder.sent if isinstance(r, LogChunk))
    assert "pw=***" in logs and SECRET not in logs and SECRET not in repr(recorder.sent)
    assert next(r for r in recorder.sent if isinstance(r, ReportStarted)).pid is None


def test_a_process_python_task_gets_its_variables_and_secrets_in_its_environment() -> None:
    recorder = Recorder()
    env = with_secret_refs({"PLAIN": "p"}, {"TOKEN": "api-token"})
    task = PythonTask(entrypoint="tests.integration.jobs_for_tests:variable", args_json='["TOKEN"]', env=env)
    options = ExecutorOptions(allowed_modules=("tests.integration.jobs_for_tests",))
    result = run(Source({"TOKEN": SECRET}, recorder.sent), recorder, assigned(task), options)
    assert result.outcome == Outcome.SUCCEEDED, result.error
    assert result.result_json == '"***"' and result.stdout_tail == "TOKEN=***\n"
    plain = PythonTask(entrypoint="tests.integration.jobs_for_tests:variable", args_json='["PLAIN"]', env=env)
    assert run(Source({"TOKEN": SECRET}, recorder.sent), recorder, assigned(plain), options).result_json == '"p"'
    assert SECRET not in repr(recorder.sent)


def test_an_http_task_sends_its_secret_as_the_header_it_names() -> None:
    recorder = Recorder()
    with serve_once() as (url, seen):
        task = HttpTask(url=url, headers=with_secret_refs({"X-Plain": "p"}, {"Authorization": "api-token"}))
        result = run(Source({"Authorization": f"Bearer {SECRET}"}, recorder.sent), recorder, assigned(task))
    assert result.outcome == Outcome.SUCCEEDED, result.error
    assert seen["authorization"] == f"Bearer {SECRET}" and seen["x-plain"] == "p"
    assert not any(name.startswith("secret:") for name in seen)  # the reference never leaves the worker
    assert SECRET not in (result.result_json or "") and SECRET not in repr(recorder.sent)


@contextlib.contextmanager
def serve_once() -> Iterator[tuple[str, dict[str, str]]]:
    """A local HTTP server answering 200; the headers of the request it got (lower-case names)."""
    seen: dict[str, str] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            seen.update({name.lower(): value for name, value in self.headers.items()})
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", seen
    finally:
        server.shutdown()
        thread.join(5)


def test_a_refusal_fails_the_execution_saying_why() -> None:
    recorder = Recorder()
    result = run(Source(None, recorder.sent), recorder)
    assert result.outcome == Outcome.FAILED and "410" in (result.error or "")
    assert not [r for r in recorder.sent if isinstance(r, LogChunk)]  # nothing ran


def test_the_kek_file_is_made_once_mode_0600_and_the_variable_wins(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path)
    with pytest.raises(NoKek):
        load_keks(settings)
    assert ensure_kek(settings) and not ensure_kek(settings)
    assert stat.S_IMODE(settings.kek_path.stat().st_mode) == 0o600
    made = load_keks(settings)
    assert load_keks(settings) == made
    other = kek_of(new_key())
    from_env = settings.with_(secrets_kek=base64.b64encode(other.key).decode())
    assert load_keks(from_env).current == other and not ensure_kek(from_env)

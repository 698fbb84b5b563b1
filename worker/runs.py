"""One assignment's run on this worker: the executor its task names, its log, its progress and start reports.

The worker process (process.py) hands an assignment here and reports how it finished; everything
between (output to the logs topic, progress lines to ReportProgress, the start report with the
child's pid) happens here. Report command ids are deterministic (``<execution_id>:started``,
``<execution_id>:progress:<n>``), so a repeated report changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from jobstream.core.env_from import split_env
from jobstream.schemas import Assignment, Outcome, ReportFinished, ReportProgress, ReportStarted, ShellTask, Task
from jobstream.schemas.actors import worker_actor
from jobstream.streams.kafka_io import Publisher, command_envelope
from jobstream.worker.executors import ExecutionOutput, ExecutionResult, ExecutorOptions, RunContext, run_task
from jobstream.worker.log_stream import ExecutionLog
from jobstream.worker.masking import Masker
from jobstream.worker.progress import Progress
from jobstream.worker.secrets import SecretSource, SecretsRefused
from jobstream.worker.upstream_results import upstream_results, write_results_file

Report = type[ReportStarted] | type[ReportProgress] | type[ReportFinished]


def send_report(publisher: Publisher, worker_id: str, cls: Report, assignment: Assignment, what: str,
                **fields: object) -> None:
    envelope = command_envelope(cls, assignment.job_id, worker_actor(worker_id),
                                command_id=f"{assignment.execution_id}:{what}")
    publisher.send_command(cls(envelope=envelope, execution_id=assignment.execution_id,  # type: ignore[arg-type]
                               attempt=assignment.attempt, worker_id=worker_id, **fields))
    publisher.poll(0)


def job_env(assignment: Assignment) -> dict[str, str]:
    """What every job can read about itself."""
    return {"JOBSTREAM_JOB_ID": assignment.job_id, "JOBSTREAM_EXECUTION_ID": assignment.execution_id,
            "JOBSTREAM_ATTEMPT": str(assignment.attempt)}


async def run_assignment(publisher: Publisher, worker_id: str, assignment: Assignment, cancelled: asyncio.Event,
                         options: ExecutorOptions, secrets: SecretSource | None = None) -> ExecutionResult:
    """Run the assignment's task to its end; ReportStarted and ReportProgress are sent on the way."""
    numbers = itertools.count(1)
    started = False

    def on_started(pid: int | None) -> None:
        nonlocal started  # sent at once, so that no progress report can overtake it
        if not started:
            started = True
            send_report(publisher, worker_id, ReportStarted, assignment, "started", pid=pid)

    def on_progress(progress: Progress) -> None:
        send_report(publisher, worker_id, ReportProgress, assignment, f"progress:{next(numbers)}",
                    percent=progress.percent, message=progress.message)

    task, refs = _without_refs(assignment.spec.task)
    secret_env: dict[str, str] = {}
    if refs:
        on_started(None)  # the lease the API checks is recorded by the start report: no pid for these
        try:
            secret_env = await _secret_values(secrets, assignment.execution_id)
        except SecretsRefused as error:
            return ExecutionResult(Outcome.FAILED, None, "", "", 0, error=str(error))
    masker = Masker(list(secret_env.values())) if secret_env else None
    output = ExecutionOutput(ExecutionLog(publisher, assignment, worker_id), on_progress, options.output,
                             masker=masker)
    results = upstream_results(assignment.spec)
    with _results_env(results) as results_env:
        ctx = RunContext(assignment.spec.timeout_s, cancelled, output, on_started=on_started,
                         env={**job_env(assignment), **results_env, **secret_env}, options=options,
                         upstream_results=results)
        result = await run_task(task, ctx, assignment.execution_id)
    on_started(None)  # every executor starts before it ends; this only guards a new one that forgets
    return masked(result, masker)


def _without_refs(task: Task) -> tuple[Task, dict[str, str]]:
    """The task as it runs (its env without env_from's references), and the references."""
    if not isinstance(task, ShellTask):
        return task, {}
    plain, refs = split_env(task.env)
    return (replace(task, env=plain), refs) if refs else (task, {})


async def _secret_values(secrets: SecretSource | None, execution_id: str) -> dict[str, str]:
    if secrets is None:
        raise SecretsRefused("this worker was started without access to the API's secrets")
    return await secrets.values(execution_id)


def masked(result: ExecutionResult, masker: Masker | None) -> ExecutionResult:
    """The result with every secret value masked (the tails are, as the output; the error and the
    result a task returned may hold one too)."""
    if masker is None:
        return result
    return replace(result, stdout_tail=masker.text(result.stdout_tail), stderr_tail=masker.text(result.stderr_tail),
                   error=masker.text(result.error) if result.error else result.error,
                   result_json=masker.text(result.result_json) if result.result_json else result.result_json)


@contextlib.contextmanager
def _results_env(results: dict[str, Any]) -> Iterator[dict[str, str]]:
    """The variable naming the upstream results file, which lives as long as the job; nothing
    (and no directory made) for a job without upstreams."""
    if not results:
        yield {}
        return
    with tempfile.TemporaryDirectory(prefix="jobstream-upstream-") as tmp:
        yield write_results_file(Path(tmp), results)

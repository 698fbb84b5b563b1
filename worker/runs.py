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

from jobstream.core.env_from import with_values, without_refs
from jobstream.schemas import Assignment, Outcome, ReportFinished, ReportProgress, ReportStarted
from jobstream.schemas.actors import worker_actor
from jobstream.streams.kafka_io import Publisher, command_envelope
from jobstream.worker.executors import (
    ExecutionOutput,
    ExecutionResult,
    ExecutorOptions,
    RunContext,
    StopSignal,
    run_task,
)
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


# An execution that ends within this long after it started is reported by its finish alone, which
# the state processor takes as proof of the start too (core/decide.py, _proven): one command fewer
# per quick job (an inline function, `true`). A longer one shows as running this much later.
START_REPORT_DELAY_S = 0.05


async def run_assignment(publisher: Publisher, worker_id: str, assignment: Assignment, cancelled: StopSignal,
                         options: ExecutorOptions, secrets: SecretSource | None = None) -> ExecutionResult:
    """Run the assignment's task to its end; ReportStarted (unless it ends at once) and
    ReportProgress are sent on the way."""
    numbers = itertools.count(1)
    start = _StartReport(publisher, worker_id, assignment)

    def on_progress(progress: Progress) -> None:
        start.send_now()  # no progress report may overtake the start
        send_report(publisher, worker_id, ReportProgress, assignment, f"progress:{next(numbers)}",
                    percent=progress.percent, message=progress.message)

    task, refs = without_refs(assignment.spec.task)
    values: dict[str, str] = {}
    if refs:
        start.send_now()  # the lease the API checks is recorded by the start report: no pid for these
        try:
            values = await _secret_values(secrets, assignment.execution_id)
        except SecretsRefused as error:
            return ExecutionResult(Outcome.FAILED, None, "", "", 0, error=str(error), log_records=0)
    task, secret_env = with_values(task, values)
    masker = Masker(list(values.values())) if values else None
    output = ExecutionOutput(ExecutionLog(publisher, assignment, worker_id), on_progress, options.output,
                             masker=masker)
    results = upstream_results(assignment.spec)
    try:
        with _results_env(results) as results_env:
            ctx = RunContext(assignment.spec.timeout_s, cancelled, output, on_started=start.started,
                             env={**job_env(assignment), **results_env, **secret_env}, options=options,
                             upstream_results=results)
            result = await run_task(task, ctx, assignment.execution_id)
    finally:
        start.withdraw()  # not sent yet: the finish, sent next, says it started
    return masked(replace(result, log_records=output.sent), masker)  # each piece is one log record


class _StartReport:
    """The start report of one execution, sent START_REPORT_DELAY_S after its start unless it
    has ended by then (or at once, before a progress report)."""

    def __init__(self, publisher: Publisher, worker_id: str, assignment: Assignment) -> None:
        self.publisher, self.worker_id, self.assignment = publisher, worker_id, assignment
        self.pid: int | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.sent = False

    def started(self, pid: int | None) -> None:
        if self.timer is None and not self.sent:
            self.pid = pid
            self.timer = asyncio.get_running_loop().call_later(START_REPORT_DELAY_S, self.send_now)

    def send_now(self) -> None:
        self.withdraw()
        if not self.sent:
            self.sent = True
            send_report(self.publisher, self.worker_id, ReportStarted, self.assignment, "started", pid=self.pid)

    def withdraw(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None


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

"""`jobstream bench dispatch`: queued-to-running latency, on an idle system and at sustained rates.

Like `bench e2e`, it starts its own state processor, dispatcher and workers on a fresh topic
prefix (removed at the end) and measures the broker's raw produce rate first, as the baseline of
the same run. Then:

- idle: one no-op job (`true`) at a time, the next submitted once the previous completed;
- sustained: for each offered rate, N jobs paced at that rate, over several workers.

Queued-to-running is JobQueued -> JobStarted on the events topic (both stamped by the state
processor: one clock); queued-to-assigned is the dispatcher's share of it.
"""

from __future__ import annotations

import time
from typing import Any

from jobstream.bench import E2EResult, EventWatch, JobTimes, _record, bench_stack, percentiles, submit_jobs
from jobstream.clock import new_job_id
from jobstream.config import Settings
from jobstream.schemas import JobSpec, ShellTask, SubmitJob
from jobstream.streams.kafka_io import Publisher, command_envelope


def latencies(result: E2EResult) -> dict[str, Any]:
    jobs = list(result.jobs.values())
    ms = lambda a, b: (b - a) * 1000  # noqa: E731
    return {
        "jobs": len(jobs),
        "failed": result.failed,
        "queued_to_running_ms": percentiles([ms(t.queued, t.started) for t in jobs if t.started and t.queued]),
        "queued_to_assigned_ms": percentiles([ms(t.queued, t.assigned) for t in jobs if t.assigned and t.queued]),
    }


def idle(publisher: Publisher, watch: EventWatch, jobs: int) -> dict[str, Any]:
    """One job at a time: each finds the whole system waiting for it."""
    spec = JobSpec(name="noop", queue="default", task=ShellTask(argv=["true"]))
    result = E2EResult()
    for _ in range(jobs):
        job_id = new_job_id()
        result.jobs[job_id] = JobTimes(sent=time.time())
        publisher.send_command(SubmitJob(envelope=command_envelope(SubmitJob, job_id, "bench"), spec=spec))
        publisher.flush(30)
        watch.until_done(lambda event, remaining: _record(event, result, remaining), {job_id}, 60)
        time.sleep(0.02)  # let credits settle: the next job should meet an idle system
    return latencies(result)


def sustained(publisher: Publisher, watch: EventWatch, jobs: int, rate: float) -> dict[str, Any]:
    result = E2EResult()
    submit_jobs(publisher, jobs, "default", result, rate)
    watch.until_done(lambda event, remaining: _record(event, result, remaining), set(result.jobs),
                     timeout_s=max(120.0, 5 * jobs / rate))
    first_sent = min(t.sent for t in result.jobs.values())
    last_done = max(t.finished for t in result.jobs.values())
    return {"offered_rate_per_s": rate, "achieved_submit_rate_per_s": round(jobs / result.submit_elapsed_s),
            "completed_per_s": round(jobs / (last_done - first_sent)), **latencies(result)}


def run_dispatch_bench(base: Settings, idle_jobs: int, rates: list[float], jobs_per_rate: int, workers: int,
                       slots: int, keep: bool = False) -> dict[str, Any]:
    with bench_stack(base, "dispatch", workers, slots, keep) as stack:
        watch = EventWatch(stack.settings)
        try:
            report: dict[str, Any] = {"broker_raw_produce_msgs_per_s": stack.raw_produce_msgs_per_s,
                                      "workers": workers, "slots_each": slots,
                                      "idle": idle(stack.publisher, watch, idle_jobs)}
            report["sustained"] = [sustained(stack.publisher, watch, jobs_per_rate, rate) for rate in rates]
            return report
        finally:
            watch.close()

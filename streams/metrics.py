"""Prometheus metrics of the stream processors and workers (the default registry, one set per
process), served on ``--metrics-port`` when one is given."""

from __future__ import annotations

import logging

from prometheus_client import Counter, Gauge, Histogram, start_http_server

log = logging.getLogger(__name__)

# Counted per namespace (the job's) as well: a team reads its own figures. Histograms are not, to
# keep their bucket series few.
COMMANDS = Counter("jobstream_commands_total", "Commands decided by the state processor, by type and namespace.",
                   ["type", "namespace"])
EVENTS = Counter("jobstream_events_total", "Job events appended by the state processor, by type and namespace.",
                 ["type", "namespace"])
REJECTIONS = Counter("jobstream_rejections_total",
                     "Commands rejected (CommandRejected/ReportRejected), by type and namespace.",
                     ["type", "namespace"])
IGNORED = Counter("jobstream_commands_ignored_total",
                  "Commands that decided nothing (a redelivery; a late assignment, expiry or timer of a lease that "
                  "moved on): kept out of the jobs' audit trails, counted here, by type and namespace.",
                  ["type", "namespace"])
POISON = Counter("jobstream_poison_total", "Messages set aside on the poison topic, by process.", ["process"])
DECIDE_SECONDS = Histogram("jobstream_decide_seconds", "Time to decide, fold and send one command.",
                           buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1))
ASSIGNMENTS = Counter("jobstream_assignments_total", "Executions assigned by the dispatcher.")
ASSIGNMENTS_RETURNED = Counter("jobstream_worker_assignments_returned_total",
                               "Assignments a worker handed back because they did not fit its slots, cpu or memory.")
READERS_REOPENED = Counter("jobstream_stalled_readers_reopened_total",
                           "Assigned readers replaced because they stopped fetching with records waiting, by reader.",
                           ["reader"])
TIMERS_FIRED = Counter("jobstream_timers_fired_total", "Timers fired by the timer processor, by purpose.", ["purpose"])
TIMER_LATENESS = Histogram("jobstream_timer_lateness_seconds", "Fire time minus due time.",
                           buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0))
TIMERS_REARMED = Counter("jobstream_timers_rearmed_total",
                         "Timers the state processor armed again because they were long overdue, by purpose.",
                         ["purpose"])
FORWARDED = Counter("jobstream_commands_forwarded_total",
                    "Commands that arrived on a partition their job does not hash to, sent on to the right one.")
UNSIGNED_REPORTS = Counter("jobstream_reports_unsigned_total",
                           "Worker reports set aside because they were not signed with the key of the worker they "
                           "name (a worker reporting for another, or one not told to sign).")
RETIRED = Counter("jobstream_jobs_retired_total", "Settled jobs slimmed down to a tombstone by the state processor.")
INLINE_ORPHANS = Counter("jobstream_worker_inline_orphans_total",
                         "Inline Python tasks that did not stop when timed out or cancelled (blocked in C code).")
EXECUTIONS = Counter("jobstream_worker_executions_total", "Executions a worker finished, by outcome and namespace.",
                     ["outcome", "namespace"])
JOBS_FINISHED = Counter("jobstream_jobs_finished_total",
                        "Jobs completed, or failed for good (a failed try that will be retried is not one), by result "
                        "and namespace.", ["result", "namespace"])
# A job's way through the system, observed by the state processor as it decides (core/latency.py):
# queued -> running (the alerts' scheduling latency), running -> done, submitted -> done.
SCHEDULING_LATENCY = Histogram(
    "jobstream_job_scheduling_latency_seconds", "From queued (ready to run) to running.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0))
RUN_DURATION = Histogram(
    "jobstream_job_run_duration_seconds", "How long an execution ran, completed or failed.",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0))
TURNAROUND = Histogram(
    "jobstream_job_turnaround_seconds", "From submitted to completed, or failed for good.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0, 3600.0, 21600.0))
QUEUE_READY = Gauge("jobstream_queue_ready_executions",
                    "Executions ready and waiting for a worker, by queue (the queues this dispatcher owns).", ["queue"])
QUEUE_OLDEST_AGE = Gauge("jobstream_queue_oldest_ready_age_seconds",
                         "How long the longest-waiting ready execution has waited, by queue.", ["queue"])
NAMESPACE_IN_FLIGHT = Gauge("jobstream_namespace_in_flight_executions",
                            "Executions of a capped namespace on or towards the workers of the queues this "
                            "dispatcher owns, by namespace.", ["namespace"])
NAMESPACE_CAP = Gauge("jobstream_namespace_in_flight_cap",
                      "A namespace's in-flight cap (jobstream quotas set --max-in-flight), by namespace.",
                      ["namespace"])
CONSUMER_LAG = Gauge("jobstream_consumer_lag_messages",
                     "Messages behind the end of the partitions this process consumes, by consumer group.", ["group"])
WORKER_SLOTS = Gauge("jobstream_worker_slots", "Slots of this worker: executions it may run at once.")
WORKER_SLOTS_USED = Gauge("jobstream_worker_slots_used", "Slots of this worker running an execution now.")
WORKERS = Gauge("jobstream_workers", "Workers the worker monitor knows, by liveness status (its partitions).",
                ["status"])


def serve(port: int | None) -> None:
    """Expose /metrics on ``port`` (loopback), if one is given. A port another process holds is
    logged and the process goes on without its metrics: exiting would only make its supervisor
    restart it into the same taken port, a crash loop that stops the work, not just the metrics."""
    if not port:
        return
    try:
        start_http_server(port, addr="127.0.0.1")
    except OSError as error:
        log.error("metrics not served: port %d cannot be bound (%s); the process runs on without them", port, error)

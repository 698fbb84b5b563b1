"""``GET /v1/metrics``: the API's counters cut to one namespace, and that namespace's read-model
gauges, in Prometheus text that Prometheus's own parser reads."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from jobstream.api.middleware import ApiMetrics
from jobstream.api.namespace_metrics import namespace_exposition
from jobstream.ui.queries import Overview


def samples(text: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text.decode()) for s in family.samples
            if not s.name.endswith("_created")}


def test_a_namespace_sees_its_own_counters_and_gauges_only() -> None:
    metrics = ApiMetrics()
    metrics.submits.labels("created", "acme").inc(3)
    metrics.submits.labels("created", "default").inc(5)
    metrics.requests.labels("POST", "/v1/jobs", "201", "default").inc()
    metrics.latency.labels("POST", "/v1/jobs").observe(0.01)  # every namespace's: not shown to one
    overview = Overview(jobs_by_status={"completed": 2, "queued": 1}, queues=[{"queue": "default", "waiting": 1}],
                        workers_by_status={"active": 1, "lost": 0}, dead_letters=4)

    seen = samples(namespace_exposition(metrics.registry, "acme", overview))

    assert seen[("jobstream_api_submits_total", (("namespace", "acme"), ("outcome", "created")))] == 3
    assert not [key for key in seen if ("namespace", "default") in key[1]]
    assert not [key for key in seen if key[0].startswith("jobstream_api_request")]
    assert seen[("jobstream_namespace_jobs", (("status", "completed"),))] == 2
    assert seen[("jobstream_namespace_queued_jobs", (("queue", "default"),))] == 1
    assert seen[("jobstream_namespace_workers", (("status", "active"),))] == 1
    assert seen[("jobstream_namespace_dead_letters", ())] == 4

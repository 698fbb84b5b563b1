"""``GET /v1/metrics``: Prometheus text of the caller's namespace only, for a team's own Prometheus
to scrape with a viewer key: the API's counters cut to the namespace's samples, and gauges of its
jobs, queues, workers and dead letters from the read model. ``/metrics`` (every namespace, the
processes' histograms too) stays the operators', scraped from the private network."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from jobstream.ui.queries import Overview


class NamespaceCollector(Collector):
    def __init__(self, source: CollectorRegistry, namespace: str, overview: Overview) -> None:
        self.source, self.namespace, self.overview = source, namespace, overview

    def collect(self) -> Iterator[Metric]:
        yield from self._own_samples()
        yield from self._read_model_gauges()

    def _own_samples(self) -> Iterator[Metric]:
        """The source's families with a namespace label, cut to this namespace's samples."""
        for family in self.source.collect():
            samples = [s for s in family.samples if s.labels.get("namespace") == self.namespace]
            if samples:
                cut = Metric(family.name, family.documentation, family.type, family.unit)
                cut.samples = samples
                yield cut

    def _read_model_gauges(self) -> Iterator[Metric]:
        overview = self.overview
        jobs = GaugeMetricFamily("jobstream_namespace_jobs", "The namespace's jobs by status (the read model).",
                                 labels=["status"])
        for status, count in sorted(overview.jobs_by_status.items()):
            jobs.add_metric([status], count)
        waiting = GaugeMetricFamily("jobstream_namespace_queued_jobs", "The namespace's queued jobs by queue.",
                                    labels=["queue"])
        for row in overview.queues:
            waiting.add_metric([str(row["queue"] or "")], int(row["waiting"]))
        workers = GaugeMetricFamily("jobstream_namespace_workers", "The namespace's workers by status.",
                                    labels=["status"])
        for status, count in sorted(overview.workers_by_status.items()):
            workers.add_metric([status], count)
        yield from (jobs, waiting, workers, GaugeMetricFamily(
            "jobstream_namespace_dead_letters", "The namespace's dead-lettered jobs.", value=overview.dead_letters))


def namespace_exposition(source: CollectorRegistry, namespace: str, overview: Overview) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(NamespaceCollector(source, namespace, overview))
    return generate_latest(registry)

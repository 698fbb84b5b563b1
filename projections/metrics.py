"""The projector's Prometheus metrics, in the default registry (one set per process)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

EVENTS_APPLIED = Counter("jobstream_projector_events_applied_total",
                         "Job and worker events written to the read model (duplicates excluded).")
DUPLICATES = Counter("jobstream_projector_duplicates_total", "Events skipped because their seq was already applied.")
POISONED = Counter("jobstream_projector_poisoned_total", "Messages set aside on the poison topic.")
BATCH_SECONDS = Histogram("jobstream_projector_batch_seconds", "Time to decode, fold and commit one batch.",
                          buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0))

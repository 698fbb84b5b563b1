"""What an operator watches of an engine process: its transactions, their sizes and their cost."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

TRANSACTIONS = Counter("jobstream_engine_transactions_total", "Transactions committed, by application.", ["app"])
ABORTED = Counter("jobstream_engine_transactions_aborted_total",
                  "Transactions aborted and their batch consumed again, by application.", ["app"])
BATCH_MESSAGES = Histogram("jobstream_engine_batch_messages", "Input messages per transaction, by application.",
                           ["app"], buckets=(1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2000))
COMMIT_SECONDS = Histogram("jobstream_engine_commit_seconds",
                           "Time from the batch's last message to its commit (offsets and commit), by application.",
                           ["app"], buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0))

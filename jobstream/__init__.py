"""jobstream: an event-sourced distributed job scheduler on Apache Kafka.

The SDK is imported from here (``from jobstream import Client``) but loaded on first use, so the
processes that import ``jobstream.*`` do not pay for it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_SDK = {"Client": "client", "AsyncClient": "aio", "KafkaClient": "kafka", "ClientError": "errors",
        "WaitTimeout": "errors", "RetryPolicy": "retries", "Task": "tasks", "task": "tasks", "shell": "tasks",
        "python": "tasks", "http": "tasks"}
__all__ = ["AsyncClient", "Client", "ClientError", "KafkaClient", "RetryPolicy", "Task", "WaitTimeout", "__version__",
           "http", "python", "shell", "task"]

if TYPE_CHECKING:
    from jobstream.sdk.aio import AsyncClient
    from jobstream.sdk.client import Client
    from jobstream.sdk.errors import ClientError, WaitTimeout
    from jobstream.sdk.kafka import KafkaClient
    from jobstream.sdk.retries import RetryPolicy
    from jobstream.sdk.tasks import Task, http, python, shell, task


def __getattr__(name: str) -> Any:
    if name not in _SDK:
        raise AttributeError(f"module 'jobstream' has no attribute {name!r}")
    return getattr(importlib.import_module(f"jobstream.sdk.{_SDK[name]}"), name)

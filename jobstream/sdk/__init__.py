"""The Python SDK: ``Client`` and ``AsyncClient`` over HTTP, ``KafkaClient`` straight to the commands
topic, ``task`` for functions submitted by name. ``import jobstream`` exposes them all."""

from jobstream.sdk.aio import AsyncClient
from jobstream.sdk.client import Client
from jobstream.sdk.errors import ClientError, WaitTimeout
from jobstream.sdk.retries import RetryPolicy
from jobstream.sdk.tasks import Task, http, python, shell, task

__all__ = ["AsyncClient", "Client", "ClientError", "RetryPolicy", "Task", "WaitTimeout", "http", "python", "shell",
           "task"]

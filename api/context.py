"""What the routes need, built by the app factory and reached through ``request.app.state``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Path, Query, Request

from jobstream.api.bulk import BulkCommands
from jobstream.api.commands import ApiOptions, JobCommands
from jobstream.api.middleware import ApiMetrics
from jobstream.api.notifier import JobNotifier
from jobstream.api.store import ReadModel
from jobstream.streams.kafka_io import Publisher

NO_NUL = r"^[^\x00]*$"


@dataclass(frozen=True)
class ApiContext:
    store: ReadModel
    notifier: JobNotifier
    publisher: Publisher
    commands: JobCommands
    metrics: ApiMetrics
    options: ApiOptions
    bulk: BulkCommands  # batches and bulk cancels: one Kafka transaction each


def _context(request: Request) -> ApiContext:
    context: ApiContext = request.app.state.context
    return context


Context = Annotated[ApiContext, Depends(_context)]


def _caps(request: Request) -> Mapping[str, int]:
    """The namespaces' in-flight caps as the API's key ring folds them."""
    caps: Mapping[str, int] = request.app.state.keyring.caps
    return caps


Caps = Annotated[Mapping[str, int], Depends(_caps)]

# Identifiers in paths and free-text filters: bounded, and never NUL (Postgres refuses it).
JobId = Annotated[str, Path(min_length=1, max_length=200, pattern=NO_NUL)]
ExecutionId = Annotated[str, Path(min_length=1, max_length=300, pattern=NO_NUL)]
CommandId = Annotated[str, Path(min_length=1, max_length=300, pattern=NO_NUL)]
WorkerId = Annotated[str, Path(min_length=1, max_length=300, pattern=NO_NUL)]
TextFilter = Annotated[str | None, Query(max_length=300, pattern=NO_NUL)]
LabelFilter = Annotated[list[str] | None, Query(max_length=50, description="k=v: a label the item must have; "
                                                                           "repeatable (all must match)")]
Limit = Annotated[int, Query(ge=1, le=500)]
Cursor = Annotated[str | None, Query(max_length=1000, description="next_cursor of the previous page")]

"""The bodies and answers of the bulk actions by filter (``/v1/jobs:bulk-cancel``,
``/v1/jobs:bulk-retry``, ``/v1/dlq:redrive``): the list routes' filters, a dry run, and a bound."""

from __future__ import annotations

from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from jobstream.api.models import ShortText, Text
from jobstream.api.query import label_pairs
from jobstream.api.store import Between, Contains, Filter, StartsWith
from jobstream.core.lifecycle import Status

SAMPLE = 10  # ids a dry run shows
Time = Annotated[AwareDatetime, Field(strict=False, description="RFC 3339, with an offset")]
LabelPair = Annotated[ShortText, Field(pattern=r"^[^=]+=", description="KEY=VALUE")]


class BulkRequest(BaseModel):
    """Which jobs (every filter given must match; at least one), and whether to act.

    A dry run sends nothing and answers how many jobs match and a sample of their ids. To act,
    say how many the dry run counted (``expected_count``): if more match now, nothing is sent (409),
    so a selection that grew since it was looked at is not acted on unseen."""

    model_config = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False)  # "5" is no priority

    status: list[Annotated[Status, Field(strict=False)]] | None = Field(None, max_length=len(Status))
    queue: ShortText | None = None
    name_prefix: Annotated[ShortText, Field(min_length=1)] | None = None
    label: list[LabelPair] | None = Field(None, max_length=20)
    priority: Annotated[int, Field(ge=1, le=10)] | None = None
    submitted_since: Time | None = Field(None, description="included")
    submitted_until: Time | None = Field(None, description="excluded")
    dry_run: bool = False
    expected_count: Annotated[int, Field(ge=0, description="the dry run's count: act only if no more match")] \
        | None = None
    reason: Annotated[Text, Field(min_length=1, max_length=1000)] = "by filter"
    request_id: Annotated[ShortText, Field(min_length=1, description="retrying with it sends nothing twice")] \
        | None = None

    def problems(self) -> list[tuple[str, str]]:
        """What a valid shape still lacks, by field: a filter, and the bound of an action."""
        problems = [] if self._has_filter() else [("filters", "name at least one filter (status, queue, name_prefix, "
                                                              "label, priority, submitted_since, submitted_until)")]
        if not self.dry_run and self.expected_count is None:
            problems.append(("expected_count", "required unless dry_run: the number of jobs the dry run counted"))
        return problems

    def _has_filter(self) -> bool:
        return any(value is not None for value in (self.status, self.queue, self.name_prefix, self.label,
                                                   self.priority, self.submitted_since, self.submitted_until))

    def filter(self) -> Filter:
        """The filters as the read model's (the namespace is the caller's, added by ``BulkCommands``)."""
        return Filter({"status": [s.value for s in self.status] if self.status else None, "queue": self.queue,
                       "name": StartsWith(self.name_prefix) if self.name_prefix else None, "priority": self.priority,
                       "labels": Contains(label_pairs(self.label)),
                       "submitted_at": Between(self.submitted_since, self.submitted_until)})


class BulkAnswer(BaseModel):
    dry_run: bool
    matched: int  # jobs of the caller's namespace the operation applies to
    sample: list[str] = []  # a dry run's first ids (in id order)
    requested: int = 0  # commands sent: one per job, at most 10,000 per request
    request_id: str | None = None

"""Request and response bodies of ``/v1/templates``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field

from jobstream.api.models import ShortText, Strict, StrMap, Text
from jobstream.core.templates import Param
from jobstream.schemas import ParamType

# No ':' (``{name}:run``), '/' or '@' (the job's label is ``name@version``).
TEMPLATE_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"
TemplateName = Annotated[str, Field(pattern=TEMPLATE_NAME)]
TEMPLATE_LABEL = "jobstream.template"  # the label a template's job carries: name@version


class ParamIn(Strict):
    name: ShortText
    type: Annotated[ParamType, Field(strict=False)] = ParamType.STRING  # its value, "int", in JSON
    default: Any = Field(None, description="the value when a run does not give one; absent or null: required")

    def to_param(self) -> Param:
        return Param(self.name, self.type, self.default)


class TemplateIn(Strict):
    """``POST /v1/templates``: a new template, or the next version of one with this name."""

    name: TemplateName
    description: Text = ""
    spec: dict[ShortText, Any] = Field(description="a POST /v1/jobs body whose strings may hold {{param}} "
                                                   "placeholders; a string that is one placeholder takes its "
                                                   "typed value")
    params: Annotated[list[ParamIn], Field(max_length=100)] = Field(default_factory=list)


class TemplateRunIn(Strict):
    """``POST /v1/templates/{name}:run``: submit the template's job with these parameters."""

    params: dict[ShortText, Any] = Field(default_factory=dict)
    version: Annotated[int, Field(ge=1)] | None = Field(None, description="the version to run; the latest by default")
    idempotency_key: Annotated[ShortText, Field(min_length=1)] | None = None
    labels: StrMap = Field(default_factory=dict, description="added to the template's labels")
    upstreams_may_come_later: bool = False


class ParamView(BaseModel):
    name: str
    type: ParamType
    default: Any = None
    required: bool


class TemplateVersionView(BaseModel):
    name: str
    version: int
    latest: int
    description: str
    spec: dict[str, Any]
    params: list[ParamView]
    created_at: datetime


class TemplateSummary(BaseModel):
    name: str
    latest: int
    description: str
    updated_at: datetime


class TemplatePage(BaseModel):
    items: list[TemplateSummary]
    next_cursor: str | None = None

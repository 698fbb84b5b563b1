"""Job template records (jobstream.templates): the value of the compacted templates topic, keyed by
template name. Each value holds every version of its template, so compaction, which keeps only the
last value of a key, never loses an older version that a run may still name."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import ClassVar

from .base import Record


class ParamType(StrEnum):
    STRING = "string"
    INT = "int"
    NUMBER = "number"
    BOOL = "bool"


@dataclass(frozen=True, slots=True, kw_only=True)
class TemplateParam(Record):
    avro_name: ClassVar[str] = "jobstream.templates.TemplateParam"
    name: str
    type: ParamType
    default_json: str | None = None  # None: required


@dataclass(frozen=True, slots=True, kw_only=True)
class TemplateVersion(Record):
    avro_name: ClassVar[str] = "jobstream.templates.TemplateVersion"
    version: int
    spec_json: str
    params: list[TemplateParam] = field(default_factory=list)
    description: str = ""
    created_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class Template(Record):
    avro_name: ClassVar[str] = "jobstream.templates.Template"
    name: str
    versions: list[TemplateVersion] = field(default_factory=list)


RECORDS: tuple[type[Record], ...] = (TemplateParam, TemplateVersion, Template)
ENUMS: dict[str, type[StrEnum]] = {"jobstream.templates.ParamType": ParamType}

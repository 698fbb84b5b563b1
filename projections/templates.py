"""A template record as its read-model row (pure): specs and defaults parsed back from their JSON text."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from jobstream.schemas import ParamType, Template, TemplateParam, TemplateVersion

from .rows import TemplateRow


def template_row(template: Template) -> TemplateRow:
    """The row of a template; a value whose JSON does not parse raises (the projector sets it aside)."""
    if not template.versions:
        raise ValueError(f"template {template.name} has no version")
    versions = [version_view(v) for v in template.versions]
    last = template.versions[-1]
    return TemplateRow(template.name, last.version, versions, last.created_at)


def version_view(version: TemplateVersion) -> dict[str, Any]:
    return {"version": version.version, "spec": json.loads(version.spec_json),
            "params": [_param(p) for p in version.params], "description": version.description,
            "created_at": version.created_at.isoformat()}


def _param(param: TemplateParam) -> dict[str, Any]:
    default = None if param.default_json is None else json.loads(param.default_json)
    return {"name": param.name, "type": param.type.value, "default": default, "required": param.default_json is None}


def template_from_row(name: str, versions: list[dict[str, Any]]) -> Template:
    """The record a row's versions were projected from (its JSON texts re-dumped): a new version is
    appended to it and the whole published again."""
    return Template(name=name, versions=[_version_record(v) for v in versions])


def _version_record(version: dict[str, Any]) -> TemplateVersion:
    params = [TemplateParam(name=p["name"], type=ParamType(p["type"]),
                            default_json=None if p["required"] else json.dumps(p["default"]))
              for p in version["params"]]
    return TemplateVersion(version=version["version"], spec_json=json.dumps(version["spec"]), params=params,
                           description=version["description"],
                           created_at=datetime.fromisoformat(version["created_at"]))

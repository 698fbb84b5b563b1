"""A template record into its read-model row and back: the later version wins, nothing is lost."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from jobstream.projections.batch import Batch, template_key
from jobstream.projections.templates import template_from_row, template_row
from jobstream.schemas import ParamType, Template, TemplateParam, TemplateVersion

T0 = datetime(2026, 12, 2, 10, 0, 0, 123456, tzinfo=UTC)


def version(n: int, text: str) -> TemplateVersion:
    spec = {"name": "greet", "task": {"type": "shell", "argv": ["echo", text]}}
    return TemplateVersion(version=n, spec_json=json.dumps(spec), created_at=T0, description=f"v{n}",
                           params=[TemplateParam(name="who", type=ParamType.STRING),
                                   TemplateParam(name="times", type=ParamType.INT, default_json="2")])


def test_a_row_gives_back_the_record_it_was_projected_from() -> None:
    template = Template(name="greet", versions=[version(1, "hi {{who}}"), version(2, "bye {{who}}")])
    row = template_row(template)
    assert row.latest == 2 and row.updated_at == T0
    assert row.versions[1]["params"] == [
        {"name": "who", "type": "string", "default": None, "required": True},
        {"name": "times", "type": "int", "default": 2, "required": False}]
    assert template_from_row(row.name, row.versions) == template


def test_a_batch_keeps_the_latest_version_whatever_the_order() -> None:
    one = Template(name="greet", versions=[version(1, "a")])
    two = Template(name="greet", versions=[version(1, "a"), version(2, "b")])
    batch = Batch()
    assert batch.apply(two) is True
    assert batch.apply(one) is False  # an older value of the key, redelivered
    assert batch.templates["greet"].latest == 2
    assert (batch.applied, batch.duplicates) == (1, 1)
    assert template_key("greet") in batch.notify_job_ids


def test_a_version_whose_spec_is_not_json_is_refused() -> None:
    bad = Template(name="greet", versions=[TemplateVersion(version=1, spec_json="{not json", created_at=T0)])
    with pytest.raises(ValueError):
        Batch().apply(bad)

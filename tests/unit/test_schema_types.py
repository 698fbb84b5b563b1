"""The dataclasses mirror the .avsc files exactly, and convert to/from fastavro datums."""

from __future__ import annotations

import dataclasses
import types
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, get_type_hints

import pytest

from jobstream import schemas as js
from jobstream.schemas import CATALOG, Record, all_record_classes, from_avro, sample, to_avro
from jobstream.schemas.samples import variant_count

CLASSES = all_record_classes()
SIMPLE = {"string": str, "int": int, "long": int, "double": float, "float": float, "boolean": bool, "bytes": bytes}
NO_DEFAULT = object()


def _avsc_fields(cls: type[Record]) -> list[dict[str, Any]]:
    return CATALOG.named_type(cls.avro_name)["fields"]


def _py_type(schema: Any) -> Any:
    """The annotation a field of this Avro type must have."""
    if isinstance(schema, str) and schema in SIMPLE:
        return SIMPLE[schema]
    if isinstance(schema, str):
        schema = CATALOG.named_type(schema)
    if isinstance(schema, list):
        members = [_py_type(b) for b in schema if b != "null"]
        union = members[0]
        for member in members[1:]:
            union = union | member
        return union | None if "null" in schema else union
    if schema.get("logicalType") == "timestamp-micros":
        return datetime
    kind = schema["type"]
    if kind == "record":
        return CATALOG.record_class(schema["name"])
    if kind == "enum":
        return CATALOG.enum_class(schema["name"])
    if kind == "array":
        return list[_py_type(schema["items"])]  # type: ignore[misc]
    if kind == "map":
        return dict[str, _py_type(schema["values"])]  # type: ignore[misc]
    return _py_type(kind)


def _dataclass_default(f: dataclasses.Field[Any]) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return NO_DEFAULT


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_fields_match_the_avsc_exactly(cls: type[Record]) -> None:
    assert [f.name for f in dataclasses.fields(cls)] == [f["name"] for f in _avsc_fields(cls)]  # type: ignore[arg-type]


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_defaults_match_the_avsc(cls: type[Record]) -> None:
    ours = {f.name: _dataclass_default(f) for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    theirs = {f["name"]: f.get("default", NO_DEFAULT) for f in _avsc_fields(cls)}
    assert ours == theirs


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_annotations_match_the_avsc_types(cls: type[Record]) -> None:
    hints = get_type_hints(cls)
    for f in _avsc_fields(cls):
        assert hints[f["name"]] == _py_type(f["type"]), f"{cls.__name__}.{f['name']}"


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_classes_are_frozen_slotted_and_know_their_name(cls: type[Record]) -> None:
    params = cls.__dataclass_params__  # type: ignore[attr-defined]
    assert params.frozen and "__slots__" in vars(cls)
    assert cls.avro_name.endswith("." + cls.__name__)
    instance = sample(cls)
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(instance, dataclasses.fields(instance)[0].name, None)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", sorted(n for n, s in CATALOG.schemas.named.items() if s["type"] == "enum"))
def test_enum_symbols_match(name: str) -> None:
    enum_cls: type[StrEnum] = CATALOG.enum_class(name)
    assert [m.value for m in enum_cls] == CATALOG.named_type(name)["symbols"]
    assert enum_cls.__name__ == name.rpartition(".")[2]


def test_base_classes_follow_the_namespace() -> None:
    bases = {"jobstream.commands": js.Command, "jobstream.events": js.JobEvent, "jobstream.workers": js.WorkerEvent}
    for cls in CLASSES:
        namespace = cls.avro_name.rpartition(".")[0]
        for ns, base in bases.items():
            assert issubclass(cls, base) == (ns == namespace), cls
    commands = {c.avro_name.rpartition('.')[2] for c in CLASSES if issubclass(c, js.Command)}
    assert commands == {path.stem for path in (js.AVRO_DIR / "commands").glob("*.avsc")}


def test_registry_lookups_go_both_ways() -> None:
    assert js.record_class("jobstream.events.JobFailed") is js.JobFailed
    assert js.schema_for(js.JobFailed).name == "jobstream.events.JobFailed"
    assert js.schema_for("jobstream.events.JobFailed") is js.schema_for(js.JobFailed)
    with pytest.raises(KeyError):
        js.record_class("jobstream.events.Nope")


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_datum_round_trip(cls: type[Record]) -> None:
    for variant in range(variant_count()):
        record = sample(cls, variant)
        assert from_avro(cls, _as_read(to_avro(record))) == record


def _as_read(datum: Any) -> Any:
    """What fastavro's reader returns for a written datum: enums as str, single-record unions unwrapped."""
    if isinstance(datum, tuple):
        name, inner = datum
        if name in ("jobstream.common.ShellTask", "jobstream.common.HttpTask", "jobstream.common.PythonTask"):
            return (name, _as_read(inner))
        return _as_read(inner)
    if isinstance(datum, dict):
        return {k: _as_read(v) for k, v in datum.items()}
    if isinstance(datum, list):
        return [_as_read(v) for v in datum]
    if isinstance(datum, StrEnum):
        return str(datum.value)
    return datum


def test_task_union_is_written_by_name() -> None:
    spec = js.JobSpec(name="n", task=js.PythonTask(entrypoint="m:f"))
    fields: dict[str, object] = {"entrypoint": "m:f", "args_json": "[]", "kwargs_json": "{}", "memory_limit_mb": None,
                                 "cpu_limit_s": None, "isolation": "process", "env": {}}
    task = ("jobstream.common.PythonTask", fields)
    assert to_avro(spec)["task"] == task


def test_decoded_enums_are_enum_members() -> None:
    record = from_avro(js.Dependency, {"job_id": "a", "condition": "completed"})
    assert record.condition is js.DependencyCondition.COMPLETED


def test_naive_datetimes_are_refused() -> None:
    envelope = dataclasses.replace(sample(js.Envelope), occurred_at=datetime(2024, 1, 1))
    with pytest.raises(ValueError, match="naive"):
        to_avro(envelope)
    aware = dataclasses.replace(envelope, occurred_at=datetime(2024, 1, 1, tzinfo=UTC))
    assert to_avro(aware)["occurred_at"] == aware.occurred_at


def test_union_type_alias_is_exported() -> None:
    assert isinstance(js.Task, types.UnionType)

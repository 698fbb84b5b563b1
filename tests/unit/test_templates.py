"""Templates: parameters checked by type and named, placeholders substituted, embedded JSON kept valid."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from jobstream.core.templates import Param, bind, definition_problems, placeholders, substitute
from jobstream.schemas import ParamType

SPEC = {"name": "report-{{day}}", "priority": "{{prio}}",
        "task": {"type": "python", "entrypoint": "m:f", "args": ["{{day}}", "{{n}}"],
                 "kwargs": {"dry": "{{dry}}"}}}
PARAMS = [Param("day", ParamType.STRING), Param("prio", ParamType.INT, 5), Param("n", ParamType.NUMBER),
          Param("dry", ParamType.BOOL, False)]


def test_whole_placeholders_take_typed_values_and_embedded_ones_their_text() -> None:
    values, problems = bind(PARAMS, {"day": "mon", "n": 2.5})
    assert problems == []
    assert substitute(SPEC, values) == {
        "name": "report-mon", "priority": 5,
        "task": {"type": "python", "entrypoint": "m:f", "args": ["mon", 2.5], "kwargs": {"dry": False}}}


def test_missing_wrong_type_and_unknown_parameters_are_named() -> None:
    _, problems = bind(PARAMS, {"n": "2", "prio": True, "colour": "red"})
    assert sorted(problems) == [
        ("params.colour", "is not a parameter of this template"),
        ("params.day", "is required (string)"),
        ("params.n", 'must be a number, not "2"'),
        ("params.prio", "must be an int, not true"),
    ]


def test_a_definition_names_undeclared_placeholders_bad_defaults_and_twice_declared_names() -> None:
    params = [Param("day", ParamType.STRING), Param("day", ParamType.INT, "x"), Param("9x", ParamType.BOOL)]
    assert definition_problems({"name": "{{day}}-{{when}}"}, params) == [
        ("params[1].name", "day is declared twice"),
        ("params[1].default", 'must be an int, not "x"'),
        ("params[2].name", "must be a letter or _, then letters, digits or _ (64 at most)"),
        ("spec", "{{when}} names no declared parameter"),
    ]
    assert definition_problems(["not", "an", "object"], []) == [
        ("spec", "must be a JSON object (a job submission body)")]
    assert definition_problems({"timeout_s": float("nan")}, []) == [
        ("spec", "must be JSON: NaN and Infinity are not numbers there")]
    assert definition_problems(SPEC, PARAMS) == []


def test_placeholders_are_found_at_any_depth_with_inner_spaces() -> None:
    assert placeholders({"a": ["x {{ one }} {{two}}", {"b": "{{three}}"}], "c": 3}) == {"one", "two", "three"}


def test_a_string_holding_json_stays_valid_json() -> None:
    body = '{"who": "{{who}}", "count": "{{n}}", "note": "n={{n}}"}'
    values = {"who": 'a "quoted" \\ name', "n": 7}
    assert json.loads(substitute({"data": body}, values)["data"]) == {
        "who": 'a "quoted" \\ name', "count": 7, "note": "n=7"}


# Any text a user may pass, and a template whose strings embed it in JSON and in plain text.
texts = st.text(max_size=30)
values_of = {ParamType.STRING: texts, ParamType.INT: st.integers(), ParamType.BOOL: st.booleans(),
             ParamType.NUMBER: st.floats(allow_nan=False, allow_infinity=False)}


@st.composite
def typed_values(draw: st.DrawFn) -> tuple[ParamType, Any]:
    kind = draw(st.sampled_from(list(ParamType)))
    return kind, draw(values_of[kind])


@given(typed_values(), texts)
def test_any_value_substituted_into_json_text_keeps_it_json_and_round_trips(typed: tuple[ParamType, Any],
                                                                          prefix: str) -> None:
    kind, value = typed
    values, problems = bind([Param("v", kind)], {"v": value})
    assert problems == []
    label = f"at {prefix.replace('{', '')}{{{{v}}}}"
    template = {"body": json.dumps({"whole": "{{v}}", "list": ["{{v}}"]}), "label": label}
    result = substitute(template, values)
    assert json.loads(result["body"]) == {"whole": value, "list": [value]}
    text = value if kind == ParamType.STRING else json.dumps(value)
    assert result["label"] == f"at {prefix.replace('{', '')}{text}"


@given(typed_values(), st.sampled_from(list(ParamType)))
def test_a_value_is_accepted_exactly_when_its_type_is_the_declared_one(typed: tuple[ParamType, Any],
                                                                       declared: ParamType) -> None:
    kind, value = typed
    _, problems = bind([Param("v", declared)], {"v": value})
    fits = kind == declared or (declared == ParamType.NUMBER and kind == ParamType.INT)
    assert (problems == []) == fits


@given(texts.filter(lambda t: "{{" not in t and "}}" not in t))
def test_strings_without_placeholders_are_left_alone(text: str) -> None:
    assert substitute({"a": [text, 1, None, True]}, {}) == {"a": [text, 1, None, True]}

"""Job templates, pure: declared parameters, checking given values, substituting ``{{name}}``.

A template's spec is a submission body (JSON) whose string values may hold placeholders. A string
that is exactly one placeholder takes the parameter's typed value (``"{{n}}"`` with an int 3 becomes
``3``); a placeholder inside a longer string takes its JSON text form. A string that is itself JSON
text (an object or array, such as an HTTP body) is substituted inside its parsed form and dumped
again, so a value with quotes in it never breaks that JSON.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jobstream.core.validation import Problem
from jobstream.schemas import ParamType

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
PLACEHOLDER = re.compile(r"\{\{\s*(" + NAME.pattern + r")\s*\}\}")


@dataclass(frozen=True)
class Param:
    name: str
    type: ParamType
    default: Any = None  # None: the parameter is required


def type_problem(kind: ParamType, value: Any) -> str | None:
    """Why ``value`` is not a ``kind`` (JSON types, strictly: true is not an int, "3" is not one)."""
    fits = {ParamType.STRING: isinstance(value, str),
            ParamType.INT: isinstance(value, int) and not isinstance(value, bool),
            ParamType.NUMBER: isinstance(value, int | float) and not isinstance(value, bool),
            ParamType.BOOL: isinstance(value, bool)}[kind]
    if not fits:
        return f"must be {'a' if kind != ParamType.INT else 'an'} {kind.value}, not {json.dumps(value)}"
    if isinstance(value, float) and not math.isfinite(value):
        return "must be a finite number"
    return None


def placeholders(tree: Any) -> set[str]:
    """Every parameter name a placeholder in the tree's strings refers to."""
    if isinstance(tree, str):
        return set(PLACEHOLDER.findall(tree))
    if isinstance(tree, Mapping):
        return set().union(*(placeholders(v) for v in tree.values()))
    if isinstance(tree, list):
        return set().union(*(placeholders(v) for v in tree))
    return set()


def definition_problems(spec: Any, params: list[Param]) -> list[Problem]:
    """What is wrong with a template: its spec is no object, a name is bad or declared twice, a
    default is of the wrong type, a placeholder names no declared parameter."""
    if not isinstance(spec, Mapping):
        return [("spec", "must be a JSON object (a job submission body)")]
    try:
        json.dumps(spec, allow_nan=False)  # NaN and Infinity parse in Python, but no JSON reader takes them
    except ValueError:
        return [("spec", "must be JSON: NaN and Infinity are not numbers there")]
    problems: list[Problem] = []
    seen: set[str] = set()
    for k, param in enumerate(params):
        if not NAME.fullmatch(param.name):
            problems.append((f"params[{k}].name", "must be a letter or _, then letters, digits or _ (64 at most)"))
        if param.name in seen:
            problems.append((f"params[{k}].name", f"{param.name} is declared twice"))
        seen.add(param.name)
        detail = None if param.default is None else type_problem(param.type, param.default)
        if detail:
            problems.append((f"params[{k}].default", detail))
    problems += [("spec", f"{{{{{name}}}}} names no declared parameter") for name in sorted(placeholders(spec) - seen)]
    return problems


def bind(params: list[Param], given: Mapping[str, Any]) -> tuple[dict[str, Any], list[Problem]]:
    """The value of every parameter (given, else its default), or the problems naming ``params.<name>``."""
    declared = {p.name: p for p in params}
    problems = [(f"params.{name}", "is not a parameter of this template") for name in given if name not in declared]
    values: dict[str, Any] = {}
    for param in params:
        if param.name not in given:
            if param.default is None:
                problems.append((f"params.{param.name}", f"is required ({param.type.value})"))
            else:
                values[param.name] = param.default
            continue
        detail = type_problem(param.type, given[param.name])
        if detail:
            problems.append((f"params.{param.name}", detail))
        else:
            values[param.name] = given[param.name]
    return values, problems


def substitute(tree: Any, values: Mapping[str, Any]) -> Any:
    """The tree with every placeholder replaced (``values`` must name every one: see ``bind``)."""
    if isinstance(tree, str):
        return _substitute_text(tree, values)
    if isinstance(tree, Mapping):
        return {key: substitute(value, values) for key, value in tree.items()}
    if isinstance(tree, list):
        return [substitute(value, values) for value in tree]
    return tree


def _substitute_text(text: str, values: Mapping[str, Any]) -> Any:
    whole = PLACEHOLDER.fullmatch(text)
    if whole:
        return values[whole.group(1)]
    if not PLACEHOLDER.search(text):
        return text
    embedded = _json_container(text)
    if embedded is not None:
        return json.dumps(substitute(embedded, values), ensure_ascii=False)
    return PLACEHOLDER.sub(lambda m: _text_form(values[m.group(1)]), text)


def _json_container(text: str) -> Any:
    """The parsed JSON object or array that ``text`` is, else None."""
    if not text.lstrip().startswith(("{", "[")):
        return None
    try:
        parsed = json.loads(text)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict | list) else None


def _text_form(value: Any) -> str:
    """A value inside a longer string: strings as they are, the rest as JSON (true, 3, 2.5)."""
    return value if isinstance(value, str) else json.dumps(value)

"""Unknown query parameters are a 400 naming them, not silently ignored: a mistyped filter
(``?labels=`` for ``?label=``) would otherwise return every job as if it matched. Likewise a
parameter of one value given more than once is a 422 naming it: only the last would count, so
``?actor=a&actor=b`` would answer for ``b`` alone."""

from __future__ import annotations

from typing import Any, get_args, get_origin

from fastapi import Request

from jobstream.api.problems import ApiProblem, field_error


async def known_query_only(request: Request) -> None:
    """An app-wide dependency: every query parameter must be one the operation declares, and
    one that takes a single value must be given once."""
    dependant = getattr(request.scope.get("route"), "dependant", None)
    if dependant is None:
        return
    declared = _query_params(dependant)
    unknown = sorted(set(request.query_params) - set(declared))
    if unknown:
        names = ", ".join(unknown)
        raise ApiProblem(400, "unknown-query-parameter", f"unknown query parameter(s): {names}; this operation "
                         f"takes {', '.join(sorted(declared)) or 'none'}",
                         errors=[field_error(name, "is not a query parameter of this operation") for name in unknown])
    repeated = sorted(name for name, many in declared.items()
                      if not many and len(request.query_params.getlist(name)) > 1)
    if repeated:
        raise ApiProblem(422, "validation", "the request is not valid; see errors",
                         errors=[field_error(name, "is given more than once; it takes one value") for name in repeated])


def _query_params(dependant: Any) -> dict[str, bool]:
    """The query parameters an operation and its dependencies declare, each with whether it takes a list."""
    params = {param.alias: _takes_many(param.field_info.annotation) for param in dependant.query_params}
    for sub in dependant.dependencies:
        params |= _query_params(sub)
    return params


def _takes_many(annotation: Any) -> bool:
    """``list[str] | None`` does, ``str | None`` does not."""
    return any(get_origin(kind) in (list, tuple, set, frozenset) for kind in (annotation, *get_args(annotation)))


def label_pairs(labels: list[str] | None) -> dict[str, str]:
    """``["team=ml", "tier=gold"]`` -> ``{"team": "ml", "tier": "gold"}``; a 422 naming ``label`` otherwise."""
    pairs: dict[str, str] = {}
    for item in labels or []:
        key, sep, value = item.partition("=")
        if not sep or not key or "\x00" in item:
            raise ApiProblem(422, "validation", "the request is not valid; see errors",
                             errors=[field_error("label", f"{item!r} is not k=v")])
        pairs[key] = value
    return pairs

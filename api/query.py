"""Unknown query parameters are a 400 naming them, not silently ignored: a mistyped filter
(``?labels=`` for ``?label=``) would otherwise return every job as if it matched."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from jobstream.api.problems import ApiProblem, field_error


async def known_query_only(request: Request) -> None:
    """An app-wide dependency: every query parameter must be one the operation declares."""
    dependant = getattr(request.scope.get("route"), "dependant", None)
    if dependant is None:
        return
    known = _query_names(dependant)
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        names = ", ".join(unknown)
        raise ApiProblem(400, "unknown-query-parameter", f"unknown query parameter(s): {names}; this operation "
                         f"takes {', '.join(sorted(known)) or 'none'}",
                         errors=[field_error(name, "is not a query parameter of this operation") for name in unknown])


def _query_names(dependant: Any) -> set[str]:
    """The query parameters an operation and its dependencies declare."""
    names = {param.alias for param in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


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

"""Jinja2 set-up for the dashboard: the templates folder and the filters the pages use."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape

from jobstream.ui.viewer import viewer_of

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"


def when(value: datetime | None) -> Markup:
    """A time as ``<time>``: UTC in the markup and on hover; the page's script shows it in the
    viewer's zone."""
    if value is None:
        return Markup("<span class=muted>–</span>")
    utc = value.astimezone(UTC)
    iso = utc.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    shown = utc.strftime("%Y-%m-%d %H:%M:%S UTC")
    return Markup(f'<time datetime="{iso}" title="{shown}">{shown}</time>')


def input_time(value: datetime | None) -> str:
    """A time as a ``datetime-local`` input shows it: UTC, without its zone."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S") if value else ""


def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str)


def duration(ms: int | None) -> str:
    if ms is None:
        return "–"
    return f"{ms} ms" if ms < 10_000 else f"{ms / 1000:.1f} s"


def status_badge(status: str | None) -> Markup:
    name = status or "unknown"
    return Markup(f'<span class="badge status-{escape(name)}">{escape(name)}</span>')


def make_templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=HERE / "templates")
    templates.env.filters.update(when=when, input_time=input_time, pretty_json=pretty_json, duration=duration,
                                 status=status_badge)
    return templates


TEMPLATES = make_templates()


def page(request: Request, name: str, status_code: int = 200, **values: Any) -> HTMLResponse:
    """A page rendered from its template, which knows its ``viewer``."""
    return TEMPLATES.TemplateResponse(request, name, {"viewer": viewer_of(request), **values},
                                      status_code=status_code)

"""A job's dependencies drawn as SVG on the server: its upstreams on the left, the job in the
middle, its downstreams on the right, each a link to its page, coloured by status."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple
from urllib.parse import quote

from markupsafe import Markup, escape

WIDTH, HEIGHT, GAP_X, GAP_Y = 210, 46, 70, 14
MAX_LABEL = 24


class Node(NamedTuple):
    job_id: str
    name: str | None
    status: str | None


def _label(node: Node) -> str:
    text = node.name or node.job_id
    return text if len(text) <= MAX_LABEL else text[:MAX_LABEL - 1] + "…"


def _node(node: Node, x: float, y: float, center: bool) -> str:
    status = node.status or "unknown"
    return (f'<a href="/ui/jobs/{escape(quote(node.job_id, safe=""))}"><g class="node status-{escape(status)}'
            f'{" center" if center else ""}" data-job-id="{escape(node.job_id)}"><title>{escape(node.job_id)}</title>'
            f'<rect x="{x}" y="{y}" width="{WIDTH}" height="{HEIGHT}" rx="6"/>'
            f'<text x="{x + 10}" y="{y + 19}">{escape(_label(node))}</text>'
            f'<text x="{x + 10}" y="{y + 37}" class="sub">{escape(status)}</text></g></a>')


def _edge(x1: float, y1: float, x2: float, y2: float) -> str:
    mid = (x1 + x2) / 2
    return f'<path class="edge" d="M{x1},{y1} C{mid},{y1} {mid},{y2} {x2 - 4},{y2}" marker-end="url(#arrow)"/>'


def dag_svg(center: Node, upstreams: Sequence[Node], downstreams: Sequence[Node]) -> Markup:
    """The three columns as one ``<svg>``; edges run from each upstream to the job, and from it to
    each downstream."""
    columns = [list(upstreams), [center], list(downstreams)]
    rows = max(len(column) for column in columns)
    height = rows * (HEIGHT + GAP_Y) - GAP_Y
    places: list[list[tuple[float, float]]] = []
    for i, column in enumerate(columns):
        top = (height - (len(column) * (HEIGHT + GAP_Y) - GAP_Y)) / 2
        places.append([(i * (WIDTH + GAP_X), top + k * (HEIGHT + GAP_Y)) for k in range(len(column))])
    (cx, cy), = places[1]
    edges = [_edge(x + WIDTH, y + HEIGHT / 2, cx, cy + HEIGHT / 2) for x, y in places[0]]
    edges += [_edge(cx + WIDTH, cy + HEIGHT / 2, x, y + HEIGHT / 2) for x, y in places[2]]
    nodes = [_node(node, x, y, i == 1) for i, column in enumerate(columns)
             for node, (x, y) in zip(column, places[i], strict=True)]
    width = 3 * WIDTH + 2 * GAP_X
    label = f"Dependencies: {len(upstreams)} upstream, {len(downstreams)} downstream"
    return Markup(
        f'<svg class="dag" role="img" aria-label="{label}" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" xmlns="http://www.w3.org/2000/svg"><defs><marker id="arrow" viewBox="0 0 10 10" '
        f'refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z"/>'
        f'</marker></defs>{"".join(edges)}{"".join(nodes)}</svg>')

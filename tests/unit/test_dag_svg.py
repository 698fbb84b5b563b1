"""The dependency graph's SVG: one linked node per job, one edge per dependency, text escaped."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from jobstream.ui.dag_svg import Node, dag_svg

SVG = "{http://www.w3.org/2000/svg}"


def test_upstreams_the_job_and_downstreams_are_nodes_joined_by_edges() -> None:
    svg = str(dag_svg(Node("b", "build <all>", "pending"), [Node("a1", "fetch", "completed"), Node("a2", None, None)],
                      [Node("c", "ship", None)]))
    root = ET.fromstring(svg)  # well-formed XML, whatever the names hold
    nodes = [g.get("data-job-id") for g in root.iter(f"{SVG}g")]
    assert nodes == ["a1", "a2", "b", "c"]
    assert len(list(root.iter(f"{SVG}path"))) == 1 + 3  # the arrow head, and three edges
    assert "build &lt;all&gt;" in svg and 'href="/ui/jobs/a1"' in svg
    assert re.search(r'class="node status-pending center"', svg)
    assert root.get("aria-label") == "Dependencies: 2 upstream, 1 downstream"


def test_long_names_are_cut_and_ids_are_quoted_in_links() -> None:
    svg = str(dag_svg(Node("x/y", "n" * 40, "queued"), [], [Node("z", None, None)]))
    assert "n" * 23 + "…" in svg and 'href="/ui/jobs/x%2Fy"' in svg

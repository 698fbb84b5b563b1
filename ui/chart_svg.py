"""The overview's chart of the last hour: jobs finished per minute, failures stacked in red."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import NamedTuple

from markupsafe import Markup

BAR, GAP, HEIGHT = 9, 2, 90


class Minute(NamedTuple):
    at: datetime  # the minute's start
    completed: int
    failed: int


def minutes(rows: Sequence[tuple[datetime, int, int]], now: datetime, span: int = 60) -> list[Minute]:
    """One entry per minute of the ``span`` minutes before ``now`` (the current one last), zero
    where nothing finished."""
    counts = {at.replace(second=0, microsecond=0): (done, failed) for at, done, failed in rows}
    last = now.replace(second=0, microsecond=0)
    out = []
    for k in range(span - 1, -1, -1):
        at = last - timedelta(minutes=k)
        done, failed = counts.get(at, (0, 0))
        out.append(Minute(at, done, failed))
    return out


def throughput_svg(series: Sequence[Minute]) -> Markup:
    """Bars of finished jobs per minute (completed, failed on top); labelled for screen readers."""
    peak = max((m.completed + m.failed for m in series), default=0) or 1
    bars = []
    for i, m in enumerate(series):
        x = i * (BAR + GAP)
        done_h, failed_h = HEIGHT * m.completed / peak, HEIGHT * m.failed / peak
        tip = f"{m.at:%H:%M} UTC: {m.completed} completed, {m.failed} failed"
        bars.append(f'<g><title>{tip}</title>'
                    f'<rect class="done" x="{x}" y="{HEIGHT - done_h:.1f}" width="{BAR}" height="{done_h:.1f}"/>'
                    f'<rect class="failed" x="{x}" y="{HEIGHT - done_h - failed_h:.1f}" width="{BAR}" '
                    f'height="{failed_h:.1f}"/></g>')
    total_done, total_failed = sum(m.completed for m in series), sum(m.failed for m in series)
    width = len(series) * (BAR + GAP)
    label = f"Last hour: {total_done} completed, {total_failed} failed; peak {peak} a minute"
    return Markup(f'<svg class="chart" role="img" aria-label="{label}" viewBox="0 0 {width} {HEIGHT}" '
                  f'width="{width}" height="{HEIGHT}" xmlns="http://www.w3.org/2000/svg" '
                  f'data-completed="{total_done}" data-failed="{total_failed}">{"".join(bars)}</svg>')

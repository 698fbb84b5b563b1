"""The overview's chart: a bar per minute of the last hour, zero-filled, totals in its label."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from jobstream.ui.chart_svg import minutes, throughput_svg

NOW = datetime(2026, 5, 1, 12, 30, 40, tzinfo=UTC)


def test_minutes_are_zero_filled_and_end_with_the_current_one() -> None:
    series = minutes([(NOW.replace(second=0) - timedelta(minutes=2), 5, 1)], NOW)
    assert len(series) == 60 and series[-1].at == datetime(2026, 5, 1, 12, 30, tzinfo=UTC)
    assert [(m.completed, m.failed) for m in series[-3:]] == [(5, 1), (0, 0), (0, 0)]
    assert minutes([(NOW - timedelta(hours=2), 9, 9)], NOW)[0].completed == 0  # older than the span: not shown


def test_the_chart_has_a_bar_per_minute_and_says_its_totals() -> None:
    svg = str(throughput_svg(minutes([(NOW.replace(second=0), 3, 2)], NOW)))
    assert svg.count("<g>") == 60 and 'data-completed="3"' in svg and 'data-failed="2"' in svg
    assert "3 completed, 2 failed; peak 5 a minute" in svg
    assert 'data-completed="0"' in str(throughput_svg(minutes([], NOW)))  # empty: no division by zero

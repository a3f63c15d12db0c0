"""The KPI cards' sparklines (pure: no database)."""

from __future__ import annotations

import re

from ui.cards import sparkline_svg


def _points(svg: str) -> list[tuple[float, float]]:
    line = re.search(r'<polyline points="([^"]+)"', svg)
    assert line is not None
    return [(float(x), float(y)) for x, y in (p.split(",") for p in line.group(1).split())]


def test_a_short_series_is_drawn_point_by_point() -> None:
    points = _points(sparkline_svg([1.0, 3.0, 2.0, float("nan"), 5.0], "#fff"))
    assert len(points) == 4  # the NaN is left out
    assert points[0][0] == 0.0 and points[-1][0] == 104.0
    assert min(y for _, y in points) == points[-1][1]  # the largest value is drawn highest


def test_two_years_of_days_draw_at_most_one_point_per_pixel_with_the_same_shape() -> None:
    days = [float(i % 7) + (100.0 if i >= 700 else 0.0) for i in range(730)]  # a weekly wave, then a jump
    svg = sparkline_svg(days, "#fff", width=104)
    points = _points(svg)
    assert len(points) == 104
    assert points[0][0] == 0.0 and points[-1][0] == 104.0
    high = [y for x, y in points if x > 104 * 700 / 730 + 1]
    low = [y for x, y in points if x < 104 * 690 / 730]
    assert max(high) < min(low)  # the jump at the end still stands above the wave
    assert len(svg) < len(sparkline_svg(days[:104], "#fff")) * 1.2  # no bigger than a 104-day line

"""A small dependency-free SVG line chart for the README's scale curve."""

from __future__ import annotations

import math
from collections.abc import Sequence

_COLORS = ("#4f46e5", "#0ea5e9", "#f97316", "#10b981")


def line_chart_svg(
    title: str,
    x_values: Sequence[float],
    series: dict[str, Sequence[float]],
    x_label: str,
    y_label: str,
    width: int = 560,
    height: int = 300,
    log_x: bool = True,
) -> str:
    """An SVG chart of one or more series over shared x values (log-scaled x by default)."""
    left, right, top, bottom = 70, 20, 40, 50
    plot_w, plot_h = width - left - right, height - top - bottom
    xs = [math.log10(x) if log_x else x for x in x_values]
    x_min, x_max = min(xs), max(xs)
    y_max = max(max(values) for values in series.values()) * 1.1 or 1.0

    def sx(x: float) -> float:
        return left + (x - x_min) / ((x_max - x_min) or 1) * plot_w

    def sy(y: float) -> float:
        return top + plot_h - y / y_max * plot_h

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">',
        '<rect width="100%" height="100%" fill="white"/>',
        f'<text x="{width / 2}" y="22" text-anchor="middle" font-size="14" font-weight="bold">{title}</text>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#444"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#444"/>',
        f'<text x="{left + plot_w / 2}" y="{height - 10}" text-anchor="middle">{x_label}</text>',
        f'<text x="16" y="{top + plot_h / 2}" text-anchor="middle" transform="rotate(-90 16 {top + plot_h / 2})">{y_label}</text>',
    ]
    for x_raw, x in zip(x_values, xs, strict=True):
        parts.append(f'<text x="{sx(x):.1f}" y="{top + plot_h + 18}" text-anchor="middle">{x_raw:,.0f}</text>')
    for i in range(5):
        y = y_max * i / 4
        parts.append(f'<line x1="{left}" y1="{sy(y):.1f}" x2="{left + plot_w}" y2="{sy(y):.1f}" stroke="#eee"/>')
        parts.append(f'<text x="{left - 6}" y="{sy(y) + 4:.1f}" text-anchor="end">{y:,.0f}</text>')
    for index, (name, values) in enumerate(series.items()):
        color = _COLORS[index % len(_COLORS)]
        points = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in zip(xs, values, strict=True))
        parts.append(f'<polyline points="{points}" fill="none" stroke="{color}" stroke-width="2.5"/>')
        for x, y in zip(xs, values, strict=True):
            parts.append(f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="3.5" fill="{color}"/>')
        parts.append(f'<rect x="{left + 12}" y="{top + 8 + index * 18}" width="12" height="4" fill="{color}"/>')
        parts.append(f'<text x="{left + 30}" y="{top + 14 + index * 18}">{name}</text>')
    parts.append("</svg>")
    return "\n".join(parts)

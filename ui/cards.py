"""Pure functions: a DashboardView / Freshness -> the HTML of the KPI cards and the header.

Every value that comes from the warehouse or the user is escaped. The KPI cards carry their raw
values in data- attributes (`data-kpi`, `data-value`, `data-previous`) for tests and tooling.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from html import escape
from typing import Final

import pandas as pd

from ui.view import DashboardView, Freshness, Kpis, finite

KPI_SPECS: Final[tuple[tuple[str, str, str, bool, str], ...]] = (
    # key, label, note, higher_is_better, accent
    ("revenue", "Revenue", "successful transactions", True, "#38bdf8"),
    ("failure_rate", "Failure rate", "", False, "#fb7185"),
    ("avg_processing_s", "Avg processing time", "", False, "#a78bfa"),
    ("txn_count", "Transactions", "", True, "#34d399"),
)
_SPARK_COLUMN: Final[dict[str, str]] = {
    "revenue": "revenue",
    "failure_rate": "failure_rate",
    "avg_processing_s": "avg_processing_s",
    "txn_count": "txn_count",
}


def format_money(value: float) -> str:
    """₹ with a compact suffix: ₹950, ₹12.4K, ₹3.21M, ₹1.05B."""
    sign = "-" if value < 0 else ""
    v = abs(value)
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if v >= limit:
            scaled = v / limit
            digits = 2 if scaled < 10 else 1 if scaled < 100 else 0
            return f"{sign}₹{scaled:.{digits}f}{suffix}"
    return f"{sign}₹{v:,.0f}"


def format_value(metric: str, value: float | None) -> str:
    if value is None:
        return "—"
    if metric == "revenue":
        return format_money(value)
    if metric == "failure_rate":
        return f"{value * 100:.2f}%"
    if metric == "avg_processing_s":
        return f"{value:.2f} s"
    return f"{int(value):,}"


def format_change(metric: str, change: float | None) -> str:
    if change is None:
        return "n/a"
    arrow = "▲" if change > 0 else "▼" if change < 0 else "■"
    if metric == "failure_rate":
        return f"{arrow} {abs(change) * 100:.2f} pp"
    return f"{arrow} {abs(change) * 100:.1f}%"


def _raw(metric: str, value: float | None) -> str:
    if value is None:
        return ""
    if metric == "txn_count":
        return str(int(value))
    if metric == "revenue":
        return f"{value:.2f}"
    return f"{value:.6f}"


def sparkline_svg(values: list[float], color: str, *, width: int = 104, height: int = 32) -> str:
    """A tiny inline SVG line (with a soft fill) of a series; empty string for < 2 points."""
    points = [v for v in values if math.isfinite(v)]
    if len(points) < 2:
        return ""
    lo, hi = min(points), max(points)
    span = (hi - lo) or 1.0
    step = width / (len(points) - 1)
    coords = [(i * step, height - 3 - (v - lo) / span * (height - 6)) for i, v in enumerate(points)]
    line = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
    area = f"0,{height} {line} {width:.1f},{height}"
    gid = f"g{abs(hash((color, tuple(points[:4]), len(points)))) % 10**8}"
    return (
        f'<svg class="kpi-spark" width="{width}" height="{height}" viewBox="0 0 {width} {height}" aria-hidden="true">'
        f'<defs><linearGradient id="{gid}" x1="0" y1="0" x2="0" y2="1">'
        f'<stop offset="0%" stop-color="{color}" stop-opacity="0.35"/><stop offset="100%" stop-color="{color}" stop-opacity="0"/>'
        f"</linearGradient></defs>"
        f'<polygon points="{area}" fill="url(#{gid})"/>'
        f'<polyline points="{line}" fill="none" stroke="{color}" stroke-width="1.8" stroke-linejoin="round" stroke-linecap="round"/>'
        f"</svg>"
    )


def _period_text(start: date, end: date) -> str:
    if start == end:
        return f"{start:%d %b %Y}"
    if start.year == end.year:
        return f"{start:%d %b} – {end:%d %b %Y}"
    return f"{start:%d %b %Y} – {end:%d %b %Y}"


def kpi_cards_html(view: DashboardView) -> str:
    kpis: Kpis = view.kpis
    days = view.filters.days
    previous = _period_text(kpis.previous_start, kpis.previous_end)
    cards = []
    for key, label, note, higher_is_better, accent in KPI_SPECS:
        value = finite(kpis.current.metric(key))
        before = finite(kpis.previous.metric(key))
        change = finite(kpis.change(key))
        if change is None or abs(change) < 1e-12:
            tone = "flat"
        else:
            tone = "good" if (change > 0) == higher_is_better else "bad"
        spark = ""
        if not view.daily.empty:
            spark = sparkline_svg(view.daily[_SPARK_COLUMN[key]].astype(float).tolist(), accent)
        delta_title = f"previous period {previous}: {format_value(key, before)}"
        note_html = f" <small>· {escape(note)}</small>" if note else ""
        cards.append(
            f'<div class="kpi-card" style="--accent:{accent}" data-kpi="{key}" data-value="{_raw(key, value)}" '
            f'data-previous="{_raw(key, before)}">'
            f'<div class="kpi-label">{escape(label)}{note_html}</div>'
            f'<div class="kpi-value" title="{escape(_exact(key, value))}">{escape(format_value(key, value))}</div>'
            f'<div class="kpi-foot"><div class="kpi-delta" title="{escape(delta_title)}">'
            f'<span class="chg {tone}">{escape(format_change(key, change))}</span>'
            f'<span class="vs">vs previous {days} day{"s" if days != 1 else ""}</span></div>{spark}</div>'
            f"</div>"
        )
    return f'<div class="kpi-grid" data-empty="{str(view.empty).lower()}">{"".join(cards)}</div>'


def _exact(metric: str, value: float | None) -> str:
    if value is None:
        return "no data"
    if metric == "revenue":
        return f"₹{value:,.2f}"
    if metric == "failure_rate":
        return f"{value * 100:.4f}%"
    if metric == "avg_processing_s":
        return f"{value:.4f} s"
    return f"{int(value):,}"


def _when(ts: datetime | None) -> str:
    if ts is None:
        return "—"
    return ts.astimezone(UTC).strftime("%d %b %Y %H:%M UTC")


def freshness_pills(fresh: Freshness) -> list[str]:
    """The freshness panel: the last loaded day, when it landed, and the last run's status. (One
    function, so that per-file accounting - late records, corrections - joins it in one place.)"""
    if fresh.last_loaded_day is None:
        pills = ['<span class="bap-pill"><span class="bap-dot warn"></span>No day loaded yet</span>']
    else:
        pills = [
            f'<span class="bap-pill" data-testid="data-as-of"><span class="bap-dot ok"></span>'
            f"Data as of <b>{fresh.last_loaded_day:%d %b %Y}</b></span>",
            f'<span class="bap-pill">Loaded {escape(_when(fresh.last_loaded_at))}</span>',
        ]
    if fresh.last_run_status is not None:
        status = fresh.last_run_status
        dot = "ok" if status == "loaded" else "bad" if status in ("failed", "blocked") else "warn"
        day = f" ({fresh.last_run_day:%d %b})" if fresh.last_run_day else ""
        title = escape(fresh.last_run_message or f"{status} at {_when(fresh.last_run_at)}")
        pills.append(
            f'<span class="bap-pill" title="{title}" data-testid="last-run"><span class="bap-dot {dot}"></span>'
            f"Last run: <b>{escape(status)}</b>{escape(day)}</span>"
        )
    return pills


def header_html(
    fresh: Freshness, *, data_docs_url: str | None, data_docs_ready: bool, notice: str | None = None
) -> str:
    """Title, the freshness panel, the Data Docs link, and a notice (e.g. the warehouse is not
    initialised) under them."""
    pills = freshness_pills(fresh)
    if data_docs_url and data_docs_ready:
        pills.append(
            f'<a class="bap-pill" href="{escape(data_docs_url)}" target="_blank" rel="noopener" '
            f'data-testid="data-docs">Data Docs ↗</a>'
        )
    elif data_docs_url:
        pills.append('<span class="bap-pill muted" title="Built by the quality step">Data Docs not built yet</span>')
    return (
        '<header class="bap-header">'
        '<div class="bap-title"><div class="bap-logo">◆</div><div>'
        "<h1>Transactions analytics</h1>"
        "<p>Revenue, failures and processing time from the warehouse rollups</p></div></div>"
        f'<div class="bap-fresh">{"".join(pills)}</div>'
        "</header>"
        + (f'<div class="bap-notice" data-testid="warehouse-notice">{escape(notice)}</div>' if notice else "")
    )


def selection_html(view: DashboardView, notes: list[str] | None = None) -> str:
    f = view.filters
    parts = [
        f"<b>{escape(_period_text(f.start, f.end))}</b> ({f.days} day{'s' if f.days != 1 else ''})",
        f"<b>{escape(f.describe())}</b>",
        f"compared with {escape(_period_text(view.kpis.previous_start, view.kpis.previous_end))}",
    ]
    text = " · ".join(parts)
    extra = "".join(f'<div class="bap-notice info">{escape(n)}</div>' for n in (notes or []))
    return (
        f'<div class="bap-selection" data-source="{escape(view.source)}" '
        f'data-elapsed-ms="{view.elapsed_ms:.1f}">Showing {text}</div>{extra}'
    )


def notice_html(message: str | None, *, tone: str = "") -> str:
    """A one-line notice (tone "info" for a neutral one, e.g. an empty table said in words)."""
    css = f"bap-notice {tone}".strip()
    return f'<div class="{css}">{escape(message)}</div>' if message else ""


def daily_table(view: DashboardView) -> pd.DataFrame:
    """The daily table shown under the charts (the CSV export has the same rows, more digits)."""
    d = view.daily
    if d.empty:
        return pd.DataFrame()
    return (
        pd.DataFrame(
            {
                "Date": d["date"].dt.strftime("%Y-%m-%d"),
                "Transactions": d["txn_count"].astype("int64").map("{:,}".format),
                "Failure rate": d["failure_rate"].map(lambda v: format_value("failure_rate", finite(v))),
                "Revenue": d["revenue"].map(lambda v: f"₹{v:,.2f}"),
                "Avg processing": d["avg_processing_s"].map(lambda v: format_value("avg_processing_s", finite(v))),
                "Revenue 7d avg": d["revenue_ma7"].map(lambda v: f"₹{v:,.2f}"),
                "Failure rate 7d": d["failure_rate_ma7"].map(lambda v: format_value("failure_rate", finite(v))),
                "Processing 7d": d["avg_processing_s_ma7"].map(lambda v: format_value("avg_processing_s", finite(v))),
            }
        )
        .iloc[::-1]
        .reset_index(drop=True)
    )

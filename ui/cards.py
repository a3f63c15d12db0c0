"""Pure functions: a DashboardView / Freshness -> the HTML of the KPI cards and the header.

Every value that comes from the warehouse or the user is escaped. The KPI cards carry their raw
values in data- attributes (`data-kpi`, `data-value`, `data-previous`) for tests and tooling.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from html import escape
from itertools import pairwise
from typing import Final

import pandas as pd

from ui.view import DashboardView, FileAccounting, Freshness, Kpis, finite

KPI_SPECS: Final[tuple[tuple[str, str, str, bool, str], ...]] = (
    # key, label, note, higher_is_better, accent
    ("revenue", "Revenue", "successful transactions", True, "#38bdf8"),
    ("failure_rate", "Failure rate", "", False, "#fb7185"),
    ("avg_processing_s", "Avg processing time", "", False, "#a78bfa"),
    ("txn_count", "Transactions", "", True, "#34d399"),
)
_EPOCH: Final[datetime] = datetime(1970, 1, 1, tzinfo=UTC)
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


def _at_most(points: list[float], n: int) -> list[float]:
    """`points` in at most `n` consecutive buckets, each its mean: a sparkline has one pixel per
    point at most, so two years of days draw the same shape from a seventh of the markup."""
    if len(points) <= n:
        return points
    edges = [round(i * len(points) / n) for i in range(n + 1)]
    return [sum(points[a:b]) / (b - a) for a, b in pairwise(edges) if b > a]


def sparkline_svg(values: list[float], color: str, *, width: int = 104, height: int = 32) -> str:
    """A tiny inline SVG line (with a soft fill) of a series; empty string for < 2 points."""
    points = [v for v in values if math.isfinite(v)]
    if len(points) < 2:
        return ""
    points = _at_most(points, width)
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
    """The freshness panel: the last loaded day, when it landed, the last run's status, the
    accounting of the latest files and the earlier day a later file changed last."""
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
    if fresh.files:
        pills.append(accounting_pill(fresh.files))
    changed = changed_pill(fresh.files)
    if changed:
        pills.append(changed)
    return pills


def _count(value: int | None) -> str:
    return "—" if value is None else f"{value:,}"


def accounting_text(fa: FileAccounting) -> str:
    """The file's accounting as one equation, e.g. "1,000 received = 990 into 05 May + 5 into
    earlier days + 0 superseded + 3 quarantined + 2 duplicates; 2 corrections (any day)"."""
    text = (
        f"{_count(fa.rows_received)} received = {_count(fa.loaded_own_day)} into {fa.run_date:%d %b}"
        f" + {_count(fa.rows_loaded_earlier)} into earlier days (late records and corrections)"
        f" + {_count(fa.rows_superseded)} superseded by a later file + {_count(fa.rows_quarantined)} quarantined"
        f" + {_count(fa.duplicates_dropped)} duplicates; {_count(fa.rows_corrections)} corrections (any day)"
    )
    if fa.changed_by is not None:
        text += f"; changed by the file of {fa.changed_by:%d %b %Y}"
    return text if fa.balanced else text + " (does not add up: see bap status)"


_ACCOUNTING_COLUMNS: Final[tuple[tuple[str, str], ...]] = (
    ("received", "rows_received"),
    ("into its day", "loaded_own_day"),
    ("into earlier days", "rows_loaded_earlier"),
    ("corrections", "rows_corrections"),
    ("superseded", "rows_superseded"),
    ("quarantined", "rows_quarantined"),
    ("duplicates", "duplicates_dropped"),
)


def accounting_pill(files: tuple[FileAccounting, ...]) -> str:
    """The latest file's accounting in a pill that opens a table of the latest files (newest first);
    each row carries its counts in data- attributes."""
    last = files[0]
    head = "".join(f"<th>{escape(label)}</th>" for label, _ in _ACCOUNTING_COLUMNS)
    rows = []
    for fa in files:
        values = {attr: getattr(fa, attr) for _, attr in _ACCOUNTING_COLUMNS}
        data = " ".join(f'data-{attr.replace("_", "-")}="{"" if v is None else v}"' for attr, v in values.items())
        cells = "".join(f"<td>{_count(v)}</td>" for v in values.values())
        changed = f"file of {fa.changed_by:%d %b}" if fa.changed_by else ""
        rows.append(
            f'<tr data-file="{fa.run_date:%Y-%m-%d}" {data} data-balanced="{str(fa.balanced).lower()}" '
            f'title="{escape(accounting_text(fa))}"><th>{fa.run_date:%d %b %Y}</th>{cells}<td>{changed}</td></tr>'
        )
    earlier = f" · {last.rows_loaded_earlier:,} into earlier days" if last.rows_loaded_earlier else ""
    corrections = f" · {last.rows_corrections:,} corrections" if last.rows_corrections else ""
    return (
        f'<details class="bap-pill bap-accounting" data-testid="file-accounting">'
        f'<summary title="{escape(accounting_text(last))}">Last file <b>{last.run_date:%d %b}</b>: '
        f"{_count(last.rows_received)} received{earlier}{corrections}</summary>"
        f'<div class="bap-accounting-table"><p>received = into its day + into earlier days + superseded + '
        f"quarantined + duplicates; corrections are part of the loaded rows</p>"
        f"<table><thead><tr><th>file day</th>{head}<th>changed by</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></div></details>"
    )


def changed_pill(files: tuple[FileAccounting, ...]) -> str:
    """The earlier day that a later file changed most recently (corrections, late records), if any."""
    changed = [(fa, by) for fa in files if (by := fa.changed_by) is not None]
    if not changed:
        return ""
    fa, by = max(changed, key=lambda c: (c[0].changed_at or _EPOCH, c[0].run_date))
    return (
        f'<span class="bap-pill" data-testid="changed-by" data-day="{fa.run_date:%Y-%m-%d}" '
        f'data-changed-by="{by:%Y-%m-%d}" title="{escape(accounting_text(fa))}">'
        f'<span class="bap-dot warn"></span><b>{fa.run_date:%d %b}</b> changed by the file of '
        f"<b>{by:%d %b}</b></span>"
    )


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


DAILY_COLUMNS: Final[tuple[str, ...]] = (
    "Date",
    "Transactions",
    "Failure rate",
    "Revenue",
    "Avg processing",
    "Revenue 7d avg",
    "Failure rate 7d",
    "Processing 7d",
)


def daily_table(view: DashboardView) -> pd.DataFrame:
    """The daily table shown under the charts, newest day first (the CSV export has the same rows,
    more digits); no rows (and no columns) for an empty view."""
    d = view.daily
    if d.empty:
        return pd.DataFrame()
    columns = (
        d["date"].dt.strftime("%Y-%m-%d"),
        d["txn_count"].astype("int64").map("{:,}".format),
        d["failure_rate"].map(lambda v: format_value("failure_rate", finite(v))),
        d["revenue"].map(lambda v: f"₹{v:,.2f}"),
        d["avg_processing_s"].map(lambda v: format_value("avg_processing_s", finite(v))),
        d["revenue_ma7"].map(lambda v: f"₹{v:,.2f}"),
        d["failure_rate_ma7"].map(lambda v: format_value("failure_rate", finite(v))),
        d["avg_processing_s_ma7"].map(lambda v: format_value("avg_processing_s", finite(v))),
    )
    frame = pd.DataFrame(dict(zip(DAILY_COLUMNS, columns, strict=True)))
    return frame.iloc[::-1].reset_index(drop=True)

"""Pure functions: query results (DataFrames, a DashboardView) -> Plotly figures and titles.

No database, no Gradio: every function here is testable on hand-made frames. A figure is
Plotly's plain JSON spec (a dict), which `plotly.graph_objects.Figure(spec)` validates in the tests. Every figure has
hover tooltips that name their series and a horizontal legend placed inside the plot area, and
an empty input gives a figure that says "No data for this selection" instead of failing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Final

import numpy as np
import pandas as pd

from ui.theme import FONT_STACK, GRID, TEXT, TEXT_MUTED, TOTAL_COLOR, series_color
from ui.view import COMPARE_TOP_N, TREND_TOP_N, DashboardView, Filters, SegmentAs, dimension_label

FigureSpec = dict[str, Any]  # {"data": [trace, ...], "layout": {...}}, as in Plotly's JSON
NO_DATA: Final[str] = "No data for this selection"
DAY_MS: Final[int] = 86_400_000  # bar widths on a date axis are in milliseconds
NO_DATA_HINT: Final[str] = "Widen the date range or set a filter back to All."


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    value_format: str  # d3 format for hover
    axis_format: str  # d3 format for ticks
    prefix: str = ""
    suffix: str = ""
    note: str = ""


METRICS: Final[dict[str, Metric]] = {
    "revenue": Metric("revenue", "Revenue", ",.0f", "~s", prefix="₹", note="successful transactions"),
    "failure_rate": Metric("failure_rate", "Failure rate", ".2%", ".1%"),
    "avg_processing_s": Metric("avg_processing_s", "Avg processing time", ".2f", ".2~f", suffix=" s"),
}


# ---------------------------------------------------------------------------------------------
# Titles
# ---------------------------------------------------------------------------------------------


def _period(f: Filters) -> str:
    if f.start == f.end:
        return f"{f.start:%d %b %Y}"
    return f"{f.start:%d %b %Y} – {f.end:%d %b %Y}"


def trend_title(
    metric: str, dimension: str | None, shown: int, total: int, segment_as: SegmentAs = "transaction"
) -> str:
    """E.g. 'Revenue per day', 'Failure rate per day by channel', '… by city · top 4 of 9'."""
    label = METRICS[metric].label
    if dimension is None or shown == 0:
        return f"{label} per day"
    title = f"{label} per day by {dimension_label(dimension, segment_as)}"
    if total > shown:
        title += f" · top {shown} of {total}"
    return title


def comparison_title(metric: str, dimension: str, f: Filters, shown: int, total: int) -> str:
    """E.g. 'Failure rate by channel', 'Avg processing time by state in South',
    'Failure rate by region · UPI', '… by city in Maharashtra · top 6 of 9'."""
    title = f"{METRICS[metric].label} by {dimension_label(dimension, f.segment_as)}"
    where = f.city or f.state or f.region
    if where and dimension != "region":
        title += f" in {where}"
    narrowing = [v for v, dim in ((f.channel, "channel"), (f.segment, "segment")) if v and dim != dimension]
    if narrowing:
        title += " · " + " · ".join(narrowing)
    if total > shown:
        title += f" · top {shown} of {total}"
    return title


def _d3_like(value: float, metric: str) -> str:
    if metric == "failure_rate":
        return f"{value * 100:.2f}%"
    if metric == "revenue":
        return f"{value:,.0f}"
    return f"{value:.2f}"


def _subtitle(text: str) -> str:
    return f"<br><span style='font-size:12px;color:{TEXT_MUTED}'>{text}</span>"


# ---------------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------------


def _figure(data: list[dict[str, Any]], layout: dict[str, Any]) -> FigureSpec:
    """A figure as Plotly's plain JSON spec: building a `go.Figure` validates every property (about
    50 ms a figure), which the browser does not need; the tests validate every spec instead."""
    return {"data": data, "layout": layout}


def _layout(title: str, subtitle: str = "", *, height: int = 340, **extra: Any) -> dict[str, Any]:
    layout: dict[str, Any] = {
        "title": {
            "text": title + (_subtitle(subtitle) if subtitle else ""),
            "x": 0.012,
            "xanchor": "left",
            "xref": "container",
            "y": 1,
            "yref": "container",
            "yanchor": "top",
            "pad": {"t": 14},
            "font": {"size": 15, "color": TEXT},
        },
        "height": height,
        "margin": {"l": 58, "r": 18, "t": 74, "b": 44},
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "font": {"family": ", ".join(FONT_STACK), "color": TEXT, "size": 12},
        "legend": {
            "orientation": "h",
            "x": 0.01,
            "xanchor": "left",
            "y": 0.99,
            "yanchor": "top",
            "bgcolor": "rgba(10,16,34,0.62)",
            "bordercolor": "rgba(255,255,255,0.12)",
            "borderwidth": 1,
            "font": {"size": 11, "color": TEXT},
            "itemsizing": "constant",
        },
        "hoverlabel": {
            "bgcolor": "rgba(10,16,34,0.94)",
            "bordercolor": "rgba(255,255,255,0.22)",
            "font": {"color": TEXT, "size": 12},
        },
        "xaxis": {
            "gridcolor": GRID,
            "zeroline": False,
            "linecolor": "rgba(255,255,255,0.14)",
            "tickfont": {"color": TEXT_MUTED},
        },
        "yaxis": {
            "gridcolor": GRID,
            "zeroline": False,
            "linecolor": "rgba(255,255,255,0.14)",
            "tickfont": {"color": TEXT_MUTED},
            "rangemode": "tozero",
        },
        "showlegend": True,
    }
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(layout.get(key), dict):
            layout[key] = {**layout[key], **value}
        else:
            layout[key] = value
    return layout


def empty_figure(title: str, message: str = NO_DATA, hint: str = NO_DATA_HINT, *, height: int = 340) -> FigureSpec:
    """A figure with no series that says why."""
    layout = _layout(
        title,
        height=height,
        showlegend=False,
        xaxis={"visible": False},
        yaxis={"visible": False},
        annotations=[
            {
                "text": f"<b>{message}</b>",
                "x": 0.5,
                "y": 0.56,
                "xref": "paper",
                "yref": "paper",
                "showarrow": False,
                "font": {"size": 16, "color": TEXT},
            },
            {
                "text": hint,
                "x": 0.5,
                "y": 0.42,
                "xref": "paper",
                "yref": "paper",
                "showarrow": False,
                "font": {"size": 12, "color": TEXT_MUTED},
            },
        ],
    )
    return _figure([], layout)


def _headroom(values: list[Any], factor: float = 1.32) -> list[float] | None:
    """A y range leaving room at the top for the legend inside the plot."""
    tops = [float(np.nanmax(v)) for v in values if len(v) and not np.all(np.isnan(np.asarray(v, dtype=float)))]
    top = max(tops, default=0.0)
    return [0, top * factor] if top > 0 else None


def _dates(values: pd.Series) -> list[str]:
    days = pd.to_datetime(values).to_numpy(dtype="datetime64[D]")
    return [str(d) for d in np.datetime_as_string(days, unit="D")]


def trend_dates(trend: pd.DataFrame) -> np.ndarray:
    """The trend's x values, 'YYYY-MM-DD' strings (an object array, picked per item)."""
    return np.asarray(_dates(trend["date"]), dtype=object)


def _values(values: pd.Series, metric: str) -> np.ndarray:
    """Rounded for the wire: a browser needs no more digits than it shows."""
    return np.round(values.to_numpy(dtype=float), 2 if metric == "revenue" else 5)


def _total_traces(
    x: list[str], daily: np.ndarray, average: np.ndarray, spec: Metric, mode: str
) -> list[dict[str, Any]]:
    """One total series: daily bars and the bold 7-day average line."""
    value = f"{spec.prefix}%{{y:{spec.value_format}}}{spec.suffix}"
    bars = {
        "type": "bar",
        "x": x,
        "y": daily,
        "name": f"Daily {spec.label.lower()}",
        "width": DAY_MS * 0.8,
        "marker": {"color": "rgba(125, 211, 252, 0.38)", "line": {"width": 0}},
        "hovertemplate": f"%{{fullData.name}}: {value}<extra></extra>",
    }
    line = {
        "type": "scatter",
        "mode": mode,
        "x": x,
        "y": average,
        "name": "7-day average",
        "line": {"color": TOTAL_COLOR, "width": 3, "shape": "spline", "smoothing": 0.6},
        "marker": {"size": 8},
        "hovertemplate": f"%{{fullData.name}}: {value}<extra></extra>",
    }
    return [bars, line]


def _item_traces(
    item: str, color: str, x: list[str], daily: np.ndarray, average: np.ndarray, spec: Metric, mode: str
) -> list[dict[str, Any]]:
    """One item's series: a faint daily line and its bold 7-day average (which carries the hover)."""
    value = f"{spec.prefix}%{{y:{spec.value_format}}}{spec.suffix}"
    daily_value = f"{spec.prefix}%{{customdata:{spec.value_format}}}{spec.suffix}"
    faint = {
        "type": "scatter",
        "mode": "lines",
        "x": x,
        "y": daily,
        "name": f"{item} · daily",
        "legendgroup": item,
        "showlegend": False,
        "line": {"color": color, "width": 1},
        "opacity": 0.3,
        "hoverinfo": "skip",
    }
    bold = {
        "type": "scatter",
        "mode": mode,
        "x": x,
        "y": average,
        "name": item,
        "legendgroup": item,
        "line": {"color": color, "width": 2.6, "shape": "spline", "smoothing": 0.6},
        "marker": {"size": 8},
        "customdata": daily,
        "hovertemplate": f"%{{fullData.name}}: {daily_value} · 7-day avg {value}<extra></extra>",
    }
    return [faint, bold]


def trend_figure(
    trend: pd.DataFrame,
    metric: str,
    *,
    dimension: str | None,
    items: list[str],
    title: str | None = None,
    subtitle: str = "",
    period: tuple[date, date] | None = None,
    dates: np.ndarray | None = None,
) -> FigureSpec:
    """Daily values and their 7-day moving average, per item (or for the total when `dimension`
    is None). `trend` has the columns of DashboardView.trend; `period` fixes the x axis to the
    selected days (so a sparse selection shows its gaps, and one day is not a zoom into hours).
    `dates`: trend_dates(trend), when the caller draws several metrics of one trend."""
    spec = METRICS[metric]
    title = title or trend_title(metric, dimension, len(items), len(items))
    if trend.empty or not items:
        return empty_figure(title)
    data: list[dict[str, Any]] = []
    series: list[np.ndarray] = []
    few = trend["date"].nunique() <= 14  # markers, so that a lone day still shows its average
    mode = "lines+markers" if few else "lines"
    item_of = trend["item"].to_numpy()  # columns read once, rows picked per item with numpy
    all_x = trend_dates(trend) if dates is None else dates
    all_daily = _values(trend[metric], metric)
    all_average = _values(trend[f"{metric}_ma7"], metric)
    for rank, item in enumerate(items if dimension is not None else items[:1]):
        mine = item_of == item
        x, daily, average = all_x[mine].tolist(), all_daily[mine], all_average[mine]
        if dimension is None:
            data += _total_traces(x, daily, average, spec, mode)
        else:
            data += _item_traces(item, series_color(item, rank, dimension), x, daily, average, spec, mode)
        series += [daily, average]
    layout = _layout(
        title,
        subtitle,
        hovermode="x unified",
        bargap=0.15,
        yaxis={
            "tickformat": spec.axis_format,
            "tickprefix": spec.prefix,
            "ticksuffix": spec.suffix,
            "range": _headroom(series, 1.32 if len(items) <= 2 else 1.42),
        },
        xaxis={"type": "date", "hoverformat": "%a %d %b %Y", **_date_range(period)},
    )
    return _figure(data, layout)


def _date_range(period: tuple[date, date] | None) -> dict[str, Any]:
    if period is None:
        return {}
    start, end = period
    return {"range": [f"{start - timedelta(days=1):%Y-%m-%d} 12:00", f"{end:%Y-%m-%d} 12:00"], "autorange": False}


def _overall_line(
    overall: float, first_item: list[str], spec: Metric, metric: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The selection's overall value: a dashed shape drawn under the bars (their labels stay
    readable) and a data-less trace that gives it its legend entry."""
    line = {"color": "rgba(226,232,240,0.7)", "width": 1.6, "dash": "dash"}
    overall_text = f"{spec.prefix}{_d3_like(overall, metric)}{spec.suffix}"
    legend = {
        "type": "scatter",
        "mode": "lines",
        "x": first_item,
        "y": [None],
        "name": f"Whole selection: {overall_text}",
        "line": line,
        "hoverinfo": "skip",
    }
    shape = {"type": "line", "xref": "paper", "x0": 0, "x1": 1, "yref": "y", "y0": overall, "y1": overall}
    return legend, {**shape, "layer": "below", "line": line}


def comparison_figure(
    comparison: pd.DataFrame,
    metric: str,
    *,
    dimension: str,
    overall: float | None,
    title: str,
    subtitle: str = "",
) -> FigureSpec:
    """One bar per item (already ordered, top-N cut done) and the selection's overall value."""
    spec = METRICS[metric]
    if comparison.empty:
        return empty_figure(title)
    items = comparison["item"].astype(str).tolist()
    colors = [series_color(item, rank, dimension) for rank, item in enumerate(items)]
    values = _values(comparison[metric], metric)
    value = f"{spec.prefix}%{{y:{spec.value_format}}}{spec.suffix}"
    bars = {
        "type": "bar",
        "x": items,
        "y": values,
        "name": spec.label,
        "showlegend": False,
        "marker": {"color": colors, "opacity": 0.85, "line": {"color": "rgba(255,255,255,0.35)", "width": 1}},
        "customdata": comparison["txn_count"].astype("int64").tolist(),
        "texttemplate": f"{spec.prefix}%{{y:{BAR_TEXT_FORMAT[metric]}}}{spec.suffix}",
        "textposition": "auto",
        "insidetextanchor": "end",
        "textangle": 0,
        "cliponaxis": False,
        "insidetextfont": {"color": "#0b1020", "size": 12},
        "outsidetextfont": {"color": TEXT, "size": 11},
        "hovertemplate": f"<b>%{{x}}</b><br>%{{fullData.name}}: {value}<br>Transactions: %{{customdata:,}}<extra></extra>",
    }
    data: list[dict[str, Any]] = [bars]
    series = [values]
    shapes = []
    if overall is not None:
        legend, shape = _overall_line(overall, items[:1], spec, metric)
        data.append(legend)
        shapes.append(shape)
        series.append(np.array([overall]))
    layout = _layout(
        title,
        subtitle,
        hovermode="closest",
        bargap=0.38,
        shapes=shapes,
        yaxis={
            "tickformat": spec.axis_format,
            "tickprefix": spec.prefix,
            "ticksuffix": spec.suffix,
            "range": _headroom(series, 1.42),
        },
        xaxis={"type": "category", "tickfont": {"color": TEXT, "size": 12}, "automargin": True},
    )
    return _figure(data, layout)


def pass_rate_figure(
    pass_rate: pd.DataFrame, *, title: str = "Expectations passed per suite", period: tuple[date, date] | None = None
) -> FigureSpec:
    """Share of passed expectations per suite per validated day (columns of QualityReport.pass_rate)."""
    if pass_rate.empty:
        return empty_figure(title, "No quality history for this period", "It appears once validated loads run.")
    data = []
    for rank, (suite, rows) in enumerate(pass_rate.groupby("suite", sort=True)):
        data.append(
            {
                "type": "scatter",
                "mode": "lines+markers",
                "x": _dates(rows["run_date"]),
                "y": np.round(rows["pass_rate"].to_numpy(dtype=float), 4),
                "name": str(suite),
                "line": {"color": series_color(str(suite), rank, None), "width": 2.2},
                "marker": {"size": 5},
                "customdata": rows[["passed", "expectations"]].to_numpy().tolist(),
                "hovertemplate": "%{fullData.name}: %{y:.1%} (%{customdata[0]} of %{customdata[1]})<extra></extra>",
            }
        )
    layout = _layout(
        title,
        hovermode="x unified",
        legend={"y": 0.04, "yanchor": "bottom"},
        yaxis={"tickformat": ".0%", "range": [0, 1.05], "rangemode": "normal"},
        xaxis={"type": "date", "hoverformat": "%a %d %b %Y", **_date_range(period)},
    )
    return _figure(data, layout)


def reasons_figure(
    reasons: pd.DataFrame, *, title: str = "Quarantined rows by reason", period: tuple[date, date] | None = None
) -> FigureSpec:
    """One horizontal bar per reject reason over the period (columns reject_reason, row_count)."""
    where = f" · {period[0]:%d %b %Y} – {period[1]:%d %b %Y}" if period else ""
    if reasons.empty:
        return empty_figure(title + where, "No quarantined rows in this period", "Rows a rule rejects appear here.")
    ordered = reasons.sort_values(["row_count", "reject_reason"], ascending=[True, False])
    data = [
        {
            "type": "bar",
            "orientation": "h",
            "x": ordered["row_count"].astype("int64").tolist(),
            "y": ordered["reject_reason"].astype(str).tolist(),
            "name": "Quarantined rows",
            "marker": {"color": "rgba(251, 113, 133, 0.75)"},
            "texttemplate": "%{x:,}",
            "textposition": "auto",
            "hovertemplate": "%{y}: %{x:,} rows<extra></extra>",
        }
    ]
    layout = _layout(
        title + where,
        showlegend=False,
        height=max(220, 120 + 34 * len(ordered)),
        margin={"l": 12},
        yaxis={"automargin": True, "type": "category", "tickfont": {"color": TEXT}},
        xaxis={"tickformat": "~s", "rangemode": "tozero"},
    )
    return _figure(data, layout)


# ---------------------------------------------------------------------------------------------
# A whole view
# ---------------------------------------------------------------------------------------------

BAR_TEXT_FORMAT: Final[dict[str, str]] = {"revenue": "~s", "failure_rate": ".1%", "avg_processing_s": ".2f"}
TREND_METRICS: Final[tuple[str, ...]] = ("revenue", "failure_rate", "avg_processing_s")
COMPARISON_METRICS: Final[tuple[str, ...]] = ("failure_rate", "avg_processing_s")


def view_figures(view: DashboardView) -> dict[str, FigureSpec]:
    """The five charts of a view: trend_<metric> and compare_<metric>."""
    f = view.filters
    context = f"{_period(f)} · {f.describe()}"
    figures: dict[str, FigureSpec] = {}
    dates = None if view.empty else trend_dates(view.trend)
    for metric in TREND_METRICS:
        title = trend_title(metric, view.trend_dimension, len(view.trend_items), view.trend_item_count, f.segment_as)
        note = METRICS[metric].note
        sub = " · ".join(p for p in (context, note, "bold = 7-day average") if p)
        if view.empty:
            figures[f"trend_{metric}"] = empty_figure(title)
        else:
            figures[f"trend_{metric}"] = trend_figure(
                view.trend,
                metric,
                dimension=view.trend_dimension,
                items=view.trend_items,
                title=title,
                subtitle=sub,
                period=(f.start, f.end),
                dates=dates,
            )
    for metric in COMPARISON_METRICS:
        shown = len(view.comparison)
        title = comparison_title(metric, view.comparison_dimension, f, shown, view.comparison_item_count)
        if view.empty:
            figures[f"compare_{metric}"] = empty_figure(title)
        else:
            figures[f"compare_{metric}"] = comparison_figure(
                view.comparison,
                metric,
                dimension=view.comparison_dimension,
                overall=view.kpis.current.metric(metric),
                title=title,
                subtitle=context,
            )
    return figures


__all__ = [
    "COMPARE_TOP_N",
    "METRICS",
    "NO_DATA",
    "TREND_TOP_N",
    "comparison_figure",
    "comparison_title",
    "empty_figure",
    "pass_rate_figure",
    "reasons_figure",
    "trend_figure",
    "trend_title",
    "view_figures",
]

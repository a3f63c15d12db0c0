"""The dashboard's pure view logic: what the user selected, and query rows -> what a view shows.

No database and no Gradio here: every function is tested on hand-made rows. The database access
is ui/queries.py; the Blocks wiring is ui/app.py.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cached_property
from typing import Any, Final, Literal

import numpy as np
import pandas as pd

from flows.dates import date_key

ALL: Final[str] = "All"
TREND_TOP_N: Final[int] = 4
COMPARE_TOP_N: Final[int] = 6

Dimension = Literal["channel", "region", "state", "city", "segment"]
SegmentAs = Literal["transaction", "current"]  # a customer's segment at transaction time, or now
SEGMENT_AS_CHOICES: Final[tuple[tuple[str, SegmentAs], ...]] = (
    ("at transaction time", "transaction"),
    ("current", "current"),
)
SEGMENT_LABEL: Final[str] = "segment at transaction time"
CURRENT_SEGMENT_LABEL: Final[str] = "current segment"
DIM_LABELS: Final[dict[str, tuple[str, str]]] = {  # singular, plural
    "channel": ("channel", "channels"),
    "region": ("region", "regions"),
    "state": ("state", "states"),
    "city": ("city", "cities"),
    "segment": (SEGMENT_LABEL, "segments at transaction time"),
}

_NUMERIC = ("txn_count", "failed_count", "revenue", "processing_time_s_sum")

# ---------------------------------------------------------------------------------------------
# Filters and the dimensions a view breaks down by
# ---------------------------------------------------------------------------------------------


def none_if_all(value: str | None) -> str | None:
    """The dropdown's "All" (or nothing) is no filter; anything else is a plain value."""
    if value is None:
        return None
    return None if value == ALL or value == "" else value


@dataclass(frozen=True)
class Filters:
    """What the user selected. None = "All". Dates are inclusive."""

    start: date
    end: date
    region: str | None = None
    state: str | None = None
    city: str | None = None
    channel: str | None = None
    segment: str | None = None
    segment_as: SegmentAs = "transaction"  # the segment filter and breakdowns: at transaction time, or current

    def __post_init__(self) -> None:
        if self.start > self.end:
            raise ValueError(f"start {self.start} is after end {self.end}")

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def previous_start(self) -> date:
        """Start of the previous period of the same length, which ends the day before `start`."""
        return self.start - timedelta(days=self.days)

    @property
    def previous_end(self) -> date:
        return self.start - timedelta(days=1)

    @property
    def fine_geography(self) -> bool:
        return self.state is not None or self.city is not None

    @property
    def any_geography(self) -> bool:
        return self.region is not None or self.fine_geography

    def describe(self) -> str:
        """The dimension filters in words, e.g. 'South › Karnataka · UPI', or 'all transactions'."""
        geo = " › ".join(v for v in (self.region, self.state, self.city) if v)
        segment = self.segment
        if segment is not None and self.segment_as == "current":
            segment = f"{segment} ({CURRENT_SEGMENT_LABEL})"
        parts = [p for p in (geo, self.channel, segment) if p]
        return " · ".join(parts) if parts else "all transactions"

    def uses_current_segment(self, dim: str | None) -> bool:
        """The current-segment view reads the facts: only when a segment filter or a breakdown by
        segment is in play (any other view is the same at transaction time and now)."""
        return self.segment_as == "current" and (self.segment is not None or dim == "segment")


def segment_as(value: Any) -> SegmentAs:
    """The segment radio's value; anything else is the default, the segment at transaction time."""
    return "current" if value == "current" else "transaction"


def dimension_label(dim: str, segment_as: SegmentAs = "transaction", *, plural: bool = False) -> str:
    """A dimension in words, e.g. 'channel', 'segment at transaction time', 'current segments'."""
    if dim == "segment" and segment_as == "current":
        return CURRENT_SEGMENT_LABEL + ("s" if plural else "")
    return DIM_LABELS[dim][1 if plural else 0]


def next_geography(f: Filters) -> Dimension | None:
    """The geography level under the deepest one selected (None when a city is selected)."""
    if f.city is not None:
        return None
    if f.state is not None:
        return "city"
    if f.region is not None:
        return "state"
    return "region"


def trend_dimension(f: Filters) -> Dimension | None:
    """What the trend charts break down by: channel while it is "All", else the next geography
    level, else the segment; None (one total series) when every dimension is narrowed."""
    if f.channel is None:
        return "channel"
    geo = next_geography(f)
    if geo is not None:
        return geo
    return "segment" if f.segment is None else None


def comparison_dimension(f: Filters) -> Dimension:
    """What the comparison charts compare. By default the channels; once a filter is set, the
    items that filter drills into: a region's states, a state's cities, a channel's regions."""
    if f.any_geography:
        geo = next_geography(f)
        if geo is not None:
            return geo
        if f.channel is None:
            return "channel"
        return "segment" if f.segment is None else "channel"
    if f.channel is not None:
        return "region"
    return "channel"


def uses_fine_rollup(f: Filters, dim: str | None) -> bool:
    """The coarse rollup has no state or city: those filters and breakdowns need the fine one."""
    return f.fine_geography or dim in ("state", "city")


# ---------------------------------------------------------------------------------------------
# Geography and the cascading region -> state -> city options
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class City:
    city_key: int
    city_name: str
    state: str
    region: str


@dataclass(frozen=True)
class Geography:
    cities: tuple[City, ...]

    @cached_property
    def by_key(self) -> dict[int, City]:
        """Each city by its key (built once per Geography)."""
        return {c.city_key: c for c in self.cities}

    def regions(self) -> list[str]:
        return sorted({c.region for c in self.cities})

    def states(self, region: str | None) -> list[str]:
        return sorted({c.state for c in self.cities if region is None or c.region == region})

    def city_names(self, region: str | None, state: str | None) -> list[str]:
        return sorted(
            {
                c.city_name
                for c in self.cities
                if (region is None or c.region == region) and (state is None or c.state == state)
            }
        )

    def city_keys(self, region: str | None, state: str | None, city: str | None) -> list[int] | None:
        """Keys of the cities the geography filters allow; None when there is no geography filter.
        A value that names nothing gives an empty list (so: no rows), never "everything"."""
        if region is None and state is None and city is None:
            return None
        return sorted(
            c.city_key
            for c in self.cities
            if (region is None or c.region == region)
            and (state is None or c.state == state)
            and (city is None or c.city_name == city)
        )


@dataclass(frozen=True)
class Cascade:
    """Resolved geography selection and the options each dropdown may offer."""

    region: str | None
    state: str | None
    city: str | None
    regions: list[str]
    states: list[str]
    cities: list[str]


def cascade(geo: Geography, region: str | None, state: str | None, city: str | None) -> Cascade:
    """Each list offers only what the level above allows. A selection that exists but that its
    parent does not allow falls back to "All" (a parent change never leaves an impossible child);
    a value that exists nowhere is kept as the plain value it is, and so matches nothing."""
    regions = geo.regions()
    states = geo.states(region)
    if state is not None and state not in states and state in geo.states(None):
        state = None
    cities = geo.city_names(region, state)
    if city is not None and city not in cities and city in geo.city_names(None, None):
        city = None
    return Cascade(region, state, city, regions, states, cities)


# ---------------------------------------------------------------------------------------------
# The view: KPIs, trends, comparison, daily table
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Totals:
    txn_count: int = 0
    failed_count: int = 0
    revenue: float = 0.0
    processing_time_s_sum: float = 0.0

    @property
    def failure_rate(self) -> float | None:
        return self.failed_count / self.txn_count if self.txn_count else None

    @property
    def avg_processing_s(self) -> float | None:
        return self.processing_time_s_sum / self.txn_count if self.txn_count else None

    def metric(self, name: str) -> float | None:
        return {
            "revenue": self.revenue if self.txn_count else None,
            "failure_rate": self.failure_rate,
            "avg_processing_s": self.avg_processing_s,
            "txn_count": float(self.txn_count) if self.txn_count else None,
        }[name]


@dataclass(frozen=True)
class Kpis:
    current: Totals
    previous: Totals
    previous_start: date
    previous_end: date

    def change(self, metric: str) -> float | None:
        """Relative change against the previous period (failure rate: difference in points)."""
        now, before = self.current.metric(metric), self.previous.metric(metric)
        if now is None or before is None:
            return None
        if metric == "failure_rate":
            return now - before
        return (now - before) / before if before else None


@dataclass
class DashboardView:
    filters: Filters
    kpis: Kpis
    daily: pd.DataFrame  # one row per day with data in [start, end]: totals and 7-day averages
    trend_dimension: Dimension | None
    trend_items: list[str]  # the top items of trend_dimension, by transactions ('All' if none)
    trend_item_count: int  # items of trend_dimension in the period, before the top-N cut
    trend: pd.DataFrame  # one row per day x trend item, with 7-day averages
    comparison_dimension: Dimension
    comparison: pd.DataFrame  # one row per item (top COMPARE_TOP_N by transactions)
    comparison_item_count: int  # items before the top-N cut
    source: str  # the rollup read
    elapsed_ms: float = 0.0

    @property
    def empty(self) -> bool:
        return self.kpis.current.txn_count == 0


# Rows the view is built from: (date_key, item, txn_count, failed_count, revenue, processing_time_s_sum)
# per day and item, and (item, txn_count, failed_count, revenue, processing_time_s_sum) per item.
DailyRow = tuple[int, str, float, float, float, float]
ItemRow = tuple[str, float, float, float, float]
_FRAME_COLUMNS: Final[tuple[str, ...]] = (
    "date",
    *_NUMERIC,
    "failure_rate",
    "avg_processing_s",
    "revenue_ma7",
    "failure_rate_ma7",
    "avg_processing_s_ma7",
)


def _days_of(keys: np.ndarray) -> np.ndarray:
    """YYYYMMDD integers -> datetime64[D]."""
    years = (keys // 10000 - 1970).astype("datetime64[Y]")
    months = (keys // 100 % 100 - 1).astype("timedelta64[M]")
    days: np.ndarray = (years + months).astype("datetime64[D]") + (keys % 100 - 1).astype("timedelta64[D]")
    return days


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    out = np.full(num.shape, np.nan)
    np.divide(num, den, out=out, where=den > 0)
    return out


def _series_columns(days: np.ndarray, dense: np.ndarray, left: np.ndarray, keep: np.ndarray) -> dict[str, np.ndarray]:
    """Daily values and trailing 7-day averages of one series, by column (_FRAME_COLUMNS).

    `dense` holds the series' sums on every day that has data at all (any series): such a day
    without rows for this series counts as zero transactions; a day with no data at all (nothing
    loaded) is not in the window. `left[i]` is the first day inside day i's 7-day window.
    Averages: revenue is the mean daily revenue over the window's days; failure rate and
    processing time are ratios of the window's sums (weighted by transactions).
    """
    cumulative = np.vstack([np.zeros((1, dense.shape[1])), np.cumsum(dense, axis=0)])
    position = np.arange(len(dense))
    window = cumulative[position + 1] - cumulative[left]
    n_days = (position + 1 - left).astype(float)
    txn, failed, revenue, seconds = dense.T
    w_txn, w_failed, w_revenue, w_seconds = window.T
    columns = {
        "date": days,
        "txn_count": txn,
        "failed_count": failed,
        "revenue": revenue,
        "processing_time_s_sum": seconds,
        "failure_rate": _ratio(failed, txn),
        "avg_processing_s": _ratio(seconds, txn),
        "revenue_ma7": _ratio(w_revenue, n_days),
        "failure_rate_ma7": _ratio(w_failed, w_txn),
        "avg_processing_s_ma7": _ratio(w_seconds, w_txn),
    }
    return {name: values[keep] for name, values in columns.items()}


def _totals(sums: np.ndarray) -> Totals:
    return Totals(
        txn_count=int(round(sums[0])),
        failed_count=int(round(sums[1])),
        revenue=round(float(sums[2]), 2),
        processing_time_s_sum=float(sums[3]),
    )


def comparison_frame(rows: Sequence[ItemRow]) -> pd.DataFrame:
    """Per-item totals (rows of one item merged), busiest first, with rates."""
    merged: dict[str, np.ndarray] = {}
    for item, *sums in rows:
        merged[item] = merged.get(item, np.zeros(4)) + np.asarray(sums, dtype=float)
    ordered = sorted(merged.items(), key=lambda kv: (-kv[1][0], kv[0]))
    values = np.array([v for _, v in ordered]).reshape(-1, 4)
    df = pd.DataFrame({"item": [k for k, _ in ordered], **{name: values[:, i] for i, name in enumerate(_NUMERIC)}})
    df["failure_rate"] = _ratio(values[:, 1], values[:, 0])
    df["avg_processing_s"] = _ratio(values[:, 3], values[:, 0])
    return df


def _stack(series: list[tuple[str, dict[str, np.ndarray]]]) -> pd.DataFrame:
    """Per-item columns as one frame, with an `item` column after `date` (built once: a frame
    per item and a concat cost more than the rest of the view)."""
    if not series:
        return pd.DataFrame(columns=["date", "item", *_FRAME_COLUMNS[1:]])
    items = [item for item, columns in series for _ in range(len(columns["date"]))]
    stacked = {name: np.concatenate([columns[name] for _, columns in series]) for name in _FRAME_COLUMNS}
    return pd.DataFrame({"date": stacked.pop("date"), "item": items, **stacked})


def ranked_items(items: np.ndarray, txn: np.ndarray) -> list[str]:
    """Distinct items, busiest first (by transactions; ties by name)."""
    ranking: dict[str, float] = {}
    for item, count in zip(items, txn, strict=True):
        ranking[item] = ranking.get(item, 0.0) + count
    return [i for i, _ in sorted(ranking.items(), key=lambda kv: (-kv[1], kv[0]))]


def build_view(
    f: Filters,
    daily_rows: Sequence[DailyRow],
    comparison_rows: Sequence[ItemRow],
    *,
    source: str,
) -> DashboardView:
    """Pure: query rows -> everything a filter change shows. `daily_rows` also cover the previous
    period and the 6 days before `start` (for the KPI changes and the moving averages)."""
    trend_dim = trend_dimension(f)
    n = len(daily_rows)
    keys = np.fromiter((r[0] for r in daily_rows), dtype=np.int64, count=n)
    items = np.array([r[1] for r in daily_rows], dtype=object)
    values = np.array([r[2:6] for r in daily_rows], dtype=float).reshape(n, 4)

    day_keys, day_idx = np.unique(keys, return_inverse=True)
    days = _days_of(day_keys)
    ordinals = days.astype(np.int64)
    left = np.searchsorted(ordinals, ordinals - 6, side="left")
    n_days = len(day_keys)
    current = (day_keys >= date_key(f.start)) & (day_keys <= date_key(f.end))
    previous = (day_keys >= date_key(f.previous_start)) & (day_keys <= date_key(f.previous_end))

    def dense(mask: np.ndarray | None = None) -> np.ndarray:
        out = np.zeros((n_days, 4))
        idx = day_idx if mask is None else day_idx[mask]
        rows = values if mask is None else values[mask]
        for col in range(4):
            out[:, col] = np.bincount(idx, weights=rows[:, col], minlength=n_days)
        return out

    totals = dense()
    kpis = Kpis(
        _totals(totals[current].sum(axis=0)), _totals(totals[previous].sum(axis=0)), f.previous_start, f.previous_end
    )
    daily = pd.DataFrame(_series_columns(days, totals, left, current))

    in_period = current[day_idx] if n else np.zeros(0, dtype=bool)
    ranked = ranked_items(items[in_period], values[in_period, 0])
    top = ranked[:TREND_TOP_N] if trend_dim else ranked[:1]
    trend = _stack([(item, _series_columns(days, dense(items == item), left, current)) for item in top])

    comparison = comparison_frame(comparison_rows)
    return DashboardView(
        filters=f,
        kpis=kpis,
        daily=daily,
        trend_dimension=trend_dim,
        trend_items=top,
        trend_item_count=len(ranked),
        trend=trend,
        comparison_dimension=comparison_dimension(f),
        comparison=comparison.head(COMPARE_TOP_N).reset_index(drop=True),
        comparison_item_count=len(comparison),
        source=source,
    )


EXPORT_COLUMNS: Final[tuple[str, ...]] = (
    "date",
    "transactions",
    "failed",
    "failure_rate_pct",
    "revenue_success",
    "avg_processing_time_s",
    "revenue_success_7d_avg",
    "failure_rate_pct_7d",
    "avg_processing_time_s_7d",
)


def export_csv(view: DashboardView) -> str:
    """The daily table behind the view as CSV (EXPORT_COLUMNS: readable names, rates in percent,
    money to the paisa; an empty cell where a rate has no transactions), oldest day first.
    Written straight from the columns: every new view writes its export, and a frame plus
    pandas' to_csv cost about a quarter of drawing the view."""
    d = view.daily
    lines = [",".join(EXPORT_COLUMNS)]
    if d.empty:
        return lines[0] + "\n"
    dates = np.datetime_as_string(d["date"].to_numpy().astype("datetime64[D]")).tolist()
    counts = [d[name].to_numpy().astype(np.int64).tolist() for name in ("txn_count", "failed_count")]
    scaled = (
        (d["failure_rate"], 100, 3),
        (d["revenue"], 1, 2),
        (d["avg_processing_s"], 1, 3),
        (d["revenue_ma7"], 1, 2),
        (d["failure_rate_ma7"], 100, 3),
        (d["avg_processing_s_ma7"], 1, 3),
    )
    floats = [np.round(column.to_numpy(dtype=float) * factor, digits).tolist() for column, factor, digits in scaled]
    for i, day in enumerate(dates):
        cells = [day, *(str(c[i]) for c in counts), *("" if math.isnan(c[i]) else repr(c[i]) for c in floats)]
        lines.append(",".join(cells))
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# Freshness and quality
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FileAccounting:
    """What the warehouse holds of one file day's records (load_audit): received = loaded into the
    file's day + loaded into earlier days + superseded by a later file + quarantined + duplicates.
    Corrections (records replacing an earlier file's version, in any day) are part of the loaded."""

    run_date: date
    rows_received: int | None
    rows_loaded: int | None
    rows_loaded_earlier: int = 0
    rows_corrections: int = 0
    rows_superseded: int = 0
    rows_quarantined: int = 0
    duplicates_dropped: int = 0
    changed_by: date | None = None  # the later file day that last changed this day's counts
    changed_at: datetime | None = None

    @property
    def loaded_own_day(self) -> int:
        return (self.rows_loaded or 0) - self.rows_loaded_earlier

    @property
    def balanced(self) -> bool:
        """received equals the sum of where the records went."""
        parts = (self.rows_loaded or 0) + self.rows_superseded + self.rows_quarantined + self.duplicates_dropped
        return self.rows_received == parts


@dataclass(frozen=True)
class Freshness:
    last_loaded_day: date | None = None
    last_loaded_at: datetime | None = None
    last_run_day: date | None = None
    last_run_status: str | None = None
    last_run_at: datetime | None = None
    last_run_message: str | None = None
    files: tuple[FileAccounting, ...] = ()  # the latest loaded file days, newest first


@dataclass
class QualityReport:
    """The Quality tab's data; `available` is False when there is no quality history at all."""

    available: bool
    pass_rate: pd.DataFrame = field(default_factory=pd.DataFrame)  # run_date, suite, expectations, passed, pass_rate
    failures: pd.DataFrame = field(default_factory=pd.DataFrame)
    quarantine_days: list[tuple[date, int]] = field(default_factory=list)
    message: str = ""
    reasons: pd.DataFrame = field(default_factory=pd.DataFrame)  # reject_reason, row_count over the period

    @classmethod
    def of(
        cls,
        rates: Sequence[Mapping[str, Any]],
        failures: Sequence[Mapping[str, Any]],
        days: Sequence[Mapping[str, Any]],
        reasons: Sequence[Mapping[str, Any]],
        *,
        columns: Sequence[str],
    ) -> QualityReport:
        """The report from the quality queries' rows."""
        pass_rate = pd.DataFrame(rates, columns=["run_date", "suite", "expectations", "passed", "critical_failed"])
        if not pass_rate.empty:
            pass_rate["pass_rate"] = pass_rate["passed"] / pass_rate["expectations"]
        fail_df = pd.DataFrame(failures, columns=list(columns))
        quarantine_days = [(r["run_date"], int(r["quarantined_rows"])) for r in days]
        available = not pass_rate.empty or not fail_df.empty or bool(quarantine_days)
        message = "" if available else "No quality history yet: it appears after the first validated load."
        by_reason = pd.DataFrame(reasons, columns=["reject_reason", "row_count"])
        return cls(available, pass_rate, fail_df, quarantine_days, message, by_reason)


def finite(value: float | None) -> float | None:
    """None for None/NaN/inf (for display code)."""
    if value is None or not math.isfinite(value):
        return None
    return value

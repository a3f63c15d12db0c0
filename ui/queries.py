"""The dashboard's only database access, and the pure logic that turns query rows into a view.

Every query is a parameterised SQL file in warehouse_sql/queries/ (named by path, values bound by
the driver): no SQL is ever built from what a user selects. "All" is passed as NULL.

Speed: a filter change reads the pre-aggregated rollups, never the fact table. Without a state or
city filter (and without a breakdown by state or city) the coarse rollup `agg_daily_region` is
read; otherwise the fine `agg_daily_city`, restricted to the city keys the geography allows.
Results are cached for `ttl_s` seconds under a key that includes a fingerprint of `load_audit`,
so a new load invalidates them at once.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any, Final, Literal

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import make_url

from flows.warehouse.connection import check_connection, make_engine, redact
from flows.warehouse.sql import sql

log = logging.getLogger("bap.dashboard")

ALL: Final[str] = "All"
READER_ROLE: Final[str] = "bap_dashboard_reader"
TREND_TOP_N: Final[int] = 4
COMPARE_TOP_N: Final[int] = 6
MA_WINDOW: Final[str] = "7D"
STATEMENT_TIMEOUT: Final[str] = "30s"

Dimension = Literal["channel", "region", "state", "city", "segment"]
DIM_LABELS: Final[dict[str, tuple[str, str]]] = {  # singular, plural
    "channel": ("channel", "channels"),
    "region": ("region", "regions"),
    "state": ("state", "states"),
    "city": ("city", "cities"),
    "segment": ("customer segment", "customer segments"),
}

_NUMERIC = ("txn_count", "failed_count", "revenue", "processing_time_s_sum")


# ---------------------------------------------------------------------------------------------
# Filters and the dimensions a view breaks down by
# ---------------------------------------------------------------------------------------------


def date_key(day: date) -> int:
    """YYYYMMDD integer key of dim_date / the rollups."""
    return day.year * 10000 + day.month * 100 + day.day


def key_date(key: int) -> date:
    return date(key // 10000, key // 100 % 100, key % 100)


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
        parts = [p for p in (geo, self.channel, self.segment) if p]
        return " · ".join(parts) if parts else "all transactions"


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

    def by_key(self) -> dict[int, City]:
        return _cities_by_key(self.cities)

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


@lru_cache(maxsize=8)
def _cities_by_key(cities: tuple[City, ...]) -> dict[int, City]:
    return {c.city_key: c for c in cities}


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
    return (years + months).astype("datetime64[D]") + (keys % 100 - 1).astype("timedelta64[D]")


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    out = np.full(num.shape, np.nan)
    np.divide(num, den, out=out, where=den > 0)
    return out


def _series_frame(days: np.ndarray, dense: np.ndarray, left: np.ndarray, keep: np.ndarray) -> pd.DataFrame:
    """Daily values and trailing 7-day averages of one series.

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
    return pd.DataFrame({name: values[keep] for name, values in columns.items()})


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
    for item, *values in rows:
        merged[item] = merged.get(item, np.zeros(4)) + np.asarray(values, dtype=float)
    ordered = sorted(merged.items(), key=lambda kv: (-kv[1][0], kv[0]))
    values = np.array([v for _, v in ordered]).reshape(-1, 4)
    df = pd.DataFrame({"item": [k for k, _ in ordered], **{name: values[:, i] for i, name in enumerate(_NUMERIC)}})
    df["failure_rate"] = _ratio(values[:, 1], values[:, 0])
    df["avg_processing_s"] = _ratio(values[:, 3], values[:, 0])
    return df


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
    daily = _series_frame(days, totals, left, current)

    in_period = current[day_idx] if n else np.zeros(0, dtype=bool)
    ranking: dict[str, float] = {}
    for item, txn in zip(items[in_period], values[in_period, 0], strict=True):
        ranking[item] = ranking.get(item, 0.0) + txn
    ranked = [i for i, _ in sorted(ranking.items(), key=lambda kv: (-kv[1], kv[0]))]
    top = ranked[:TREND_TOP_N] if trend_dim else ranked[:1]
    parts = []
    for item in top:
        frame = _series_frame(days, dense(items == item), left, current)
        frame.insert(1, "item", item)
        parts.append(frame)
    trend = (
        pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["date", "item", *_FRAME_COLUMNS[1:]])
    )

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


def export_frame(view: DashboardView) -> pd.DataFrame:
    """The daily table behind the view, with readable column names and units."""
    d = view.daily
    out = pd.DataFrame(
        {
            "date": d["date"].dt.date if not d.empty else pd.Series([], dtype=object),
            "transactions": d["txn_count"].astype("int64"),
            "failed": d["failed_count"].astype("int64"),
            "failure_rate_pct": (d["failure_rate"] * 100).round(3),
            "revenue_success": d["revenue"].round(2),
            "avg_processing_time_s": d["avg_processing_s"].round(3),
            "revenue_success_7d_avg": d["revenue_ma7"].round(2),
            "failure_rate_pct_7d": (d["failure_rate_ma7"] * 100).round(3),
            "avg_processing_time_s_7d": d["avg_processing_s_ma7"].round(3),
        }
    )
    return out


# ---------------------------------------------------------------------------------------------
# Freshness and quality
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Freshness:
    last_loaded_day: date | None = None
    last_loaded_at: datetime | None = None
    last_run_day: date | None = None
    last_run_status: str | None = None
    last_run_at: datetime | None = None
    last_run_message: str | None = None


@dataclass
class QualityReport:
    """The Quality tab's data; `available` is False when there is no quality history at all."""

    available: bool
    pass_rate: pd.DataFrame = field(default_factory=pd.DataFrame)  # run_date, suite, expectations, passed, pass_rate
    failures: pd.DataFrame = field(default_factory=pd.DataFrame)
    quarantine_days: list[tuple[date, int]] = field(default_factory=list)
    message: str = ""


# ---------------------------------------------------------------------------------------------
# Caching
# ---------------------------------------------------------------------------------------------


class TTLCache:
    """Thread-safe LRU cache whose entries expire after `ttl_s` seconds."""

    def __init__(self, ttl_s: float, max_entries: int = 512, clock: Callable[[], float] = time.monotonic):
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._clock = clock
        self._data: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get_or_compute(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        now = self._clock()
        with self._lock:
            entry = self._data.get(key)
            if entry is not None and now - entry[0] < self.ttl_s:
                self._data.move_to_end(key)
                self.hits += 1
                return entry[1]
        value = compute()
        with self._lock:
            self.misses += 1
            self._data[key] = (now, value)
            self._data.move_to_end(key)
            while len(self._data) > self.max_entries:
                self._data.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


# ---------------------------------------------------------------------------------------------
# Read-only access
# ---------------------------------------------------------------------------------------------


@dataclass
class ReaderAccess:
    engine: sa.Engine
    mode: Literal["role", "configured", "read_only_transactions"]
    notice: str | None  # shown in the dashboard when the read-only role is not in use


def open_reader(url: str, *, role: str = READER_ROLE, configured: bool = False) -> ReaderAccess:
    """An engine whose sessions cannot write.

    `configured`: the URL already names a read-only login (BAP_DASHBOARD_WAREHOUSE_URL). Otherwise
    each session switches to `role` (created by migration 003) when the user may; where it may
    not (the warehouse user cannot create or grant roles), the dashboard reads as that user and
    says so. Every session also runs read-only transactions with a statement timeout.
    """
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        url = parsed.set(drivername="postgresql+psycopg2").render_as_string(hide_password=False)
    engine = make_engine(url)
    check_connection(engine)
    with engine.connect() as conn:
        info = conn.exec_driver_sql(sql("queries/reader_role.sql"), {"role": role}).mappings().one()
    switch = bool(info["can_switch"]) and not configured
    if configured:
        mode, notice = "configured", None
    elif switch:
        mode, notice = "role", None
    else:
        mode = "read_only_transactions"
        notice = (
            f"The read-only role {role} is not available to the warehouse user {info['connected_as']} "
            "(it may not create or grant roles), so the dashboard reads as that user inside read-only "
            "transactions. Set BAP_DASHBOARD_WAREHOUSE_URL to a read-only login to change this."
        )
        log.warning("dashboard without its read-only role", extra={"role": role, "user": info["connected_as"]})

    @event.listens_for(engine, "connect")
    def _read_only_session(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(
                sql("queries/reader_session.sql"),
                {"role": role if switch else None, "statement_timeout": STATEMENT_TIMEOUT},
            )
        finally:
            cursor.close()
        dbapi_connection.commit()  # a setting made in a transaction that is rolled back is undone

    engine.dispose()  # connections made before the listener existed are not reused
    log.info("dashboard reads the warehouse", extra={"url": redact(url), "mode": mode})
    return ReaderAccess(engine, mode, notice)


# ---------------------------------------------------------------------------------------------
# The query module
# ---------------------------------------------------------------------------------------------


def _is_missing_table(exc: sa.exc.DBAPIError) -> bool:
    return getattr(exc.orig, "pgcode", None) == "42P01"


class DashboardQueries:
    """Everything the dashboard reads, cached for `ttl_s` seconds and until the next load.

    `version_check_s`: how often (at most) the cheap load_audit fingerprint is re-read; within
    that many seconds of a load landing, every cached result is recomputed.
    """

    def __init__(
        self,
        engine: sa.Engine,
        *,
        ttl_s: float = 600.0,
        notice: str | None = None,
        version_check_s: float = 1.0,
    ):
        self.engine = engine
        self.notice = notice
        self.cache = TTLCache(ttl_s)
        self.version_check_s = version_check_s
        self._version: tuple[float, tuple[Any, ...]] | None = None
        self._version_lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="bap-dashboard-sql")

    # -- plumbing ---------------------------------------------------------------------------
    def _rows(self, path: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            result = conn.exec_driver_sql(sql(path), params or {})
            return [dict(r) for r in result.mappings()]

    def _tuples(self, path: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        with self.engine.connect() as conn:
            return [tuple(r) for r in conn.exec_driver_sql(sql(path), params)]

    def data_version(self) -> tuple[Any, ...]:
        """Fingerprint of load_audit: changes as soon as a load lands (one tiny query, re-read
        at most every `version_check_s` seconds)."""
        now = time.monotonic()
        with self._version_lock:
            if self._version is not None and now - self._version[0] < self.version_check_s:
                return self._version[1]
        try:
            row = self._rows("queries/data_version.sql")[0]
            version = (row["last_loaded_at"], row["last_run_at"], row["audited_days"])
        except sa.exc.ProgrammingError as exc:
            if not _is_missing_table(exc):
                raise
            version = (None, None, 0)
        with self._version_lock:
            if self._version is not None and self._version[1] != version:
                self.cache.clear()  # results of the old data are never asked for again
            self._version = (now, version)
        return version

    def _cached(self, key: tuple[Any, ...], compute: Callable[[], Any]) -> Any:
        return self.cache.get_or_compute((self.data_version(), *key), compute)

    def close(self) -> None:
        self._pool.shutdown(wait=False)
        self.engine.dispose()

    # -- filter options ---------------------------------------------------------------------
    def geography(self) -> Geography:
        return self._cached(
            ("geography",), lambda: Geography(tuple(City(**r) for r in self._rows("queries/filter_cities.sql")))
        )

    def channel_names(self) -> dict[int, str]:
        return self._cached(
            ("channels",),
            lambda: {r["channel_key"]: r["channel_name"] for r in self._rows("queries/filter_channels.sql")},
        )

    def channels(self) -> list[str]:
        return list(self.channel_names().values())

    def segments(self) -> list[str]:
        return self._cached(("segments",), lambda: [r["segment"] for r in self._rows("queries/filter_segments.sql")])

    def cascade(self, region: str | None, state: str | None, city: str | None) -> Cascade:
        return cascade(self.geography(), region, state, city)

    def bounds(self) -> tuple[date, date] | None:
        """First and last day with data in the rollups, or None before the first load."""

        def compute() -> tuple[date, date] | None:
            row = self._rows("queries/data_bounds.sql")[0]
            if row["first_date_key"] is None:
                return None
            return key_date(row["first_date_key"]), key_date(row["last_date_key"])

        return self._cached(("bounds",), compute)

    # -- the view ---------------------------------------------------------------------------
    def view(self, f: Filters) -> DashboardView:
        """Everything a filter change shows (cached)."""
        return self._cached(("view", f), lambda: self.compute_view(f))

    def compute_view(self, f: Filters) -> DashboardView:
        """The view straight from the warehouse (no result cache): what the benchmark times.
        The daily and the comparison query run at the same time, on two connections."""
        began = time.perf_counter()
        geo, names = self.geography(), self.channel_names()
        trend_dim = trend_dimension(f)
        compare_dim = comparison_dimension(f)
        fetch_start = min(f.previous_start, f.start - timedelta(days=6))
        comparison = self._pool.submit(self.comparison_rows, f, compare_dim, geo, names)
        daily_rows = self.daily_rows(f, trend_dim, fetch_start, geo, names)
        comparison_rows = comparison.result()
        fine = uses_fine_rollup(f, trend_dim) or uses_fine_rollup(f, compare_dim)
        view = build_view(f, daily_rows, comparison_rows, source="agg_daily_city" if fine else "agg_daily_region")
        view.elapsed_ms = (time.perf_counter() - began) * 1000
        return view

    def _params(
        self, f: Filters, dim: str | None, start: date, end: date, geo: Geography
    ) -> tuple[bool, dict[str, Any]]:
        fine = uses_fine_rollup(f, dim)
        params: dict[str, Any] = {
            "dim": dim or "total",
            "start_key": date_key(start),
            "end_key": date_key(end),
            "channel": f.channel,
            "segment": f.segment,
        }
        if fine:
            params["city_keys"] = geo.city_keys(f.region, f.state, f.city)
        else:
            params["region"] = f.region
        return fine, params

    @staticmethod
    def _label(dim: str | None, key: Any, name: Any, geo: Geography, names: dict[int, str]) -> str:
        """The item's name: a segment or region as is, a channel or city key by its dimension."""
        if name is not None:
            return str(name)
        if key is None or dim is None:
            return ALL
        if dim == "channel":
            return names.get(key, f"channel {key}")
        city = geo.by_key().get(key)
        if city is None:
            return f"city {key}"
        return {"region": city.region, "state": city.state, "city": city.city_name}[dim]

    def daily_rows(
        self, f: Filters, dim: str | None, fetch_start: date, geo: Geography, names: dict[int, str]
    ) -> list[DailyRow]:
        """(date_key, item, txn_count, failed_count, revenue, processing_time_s_sum) per day x item."""
        fine, params = self._params(f, dim, fetch_start, f.end, geo)
        rows = self._tuples(
            "queries/dashboard_daily_fine.sql" if fine else "queries/dashboard_daily_coarse.sql", params
        )
        return [(d, self._label(dim, k, n, geo, names), *v) for d, k, n, *v in rows]

    def comparison_rows(self, f: Filters, dim: str, geo: Geography, names: dict[int, str]) -> list[ItemRow]:
        """(item, txn_count, failed_count, revenue, processing_time_s_sum) per item of the period."""
        fine, params = self._params(f, dim, f.start, f.end, geo)
        rows = self._tuples(
            "queries/dashboard_compare_fine.sql" if fine else "queries/dashboard_compare_coarse.sql", params
        )
        return [(self._label(dim, k, n, geo, names), *v) for k, n, *v in rows]

    # -- freshness and quality --------------------------------------------------------------
    def freshness(self) -> Freshness:
        def compute() -> Freshness:
            try:
                return Freshness(**self._rows("queries/freshness.sql")[0])
            except sa.exc.ProgrammingError as exc:
                if _is_missing_table(exc):
                    return Freshness()
                raise

        return self._cached(("freshness",), compute)

    def quality(self, start: date, end: date, *, failures_limit: int = 50, days_limit: int = 120) -> QualityReport:
        """Pass rate per suite per day in [start, end], the latest failures, quarantined days."""

        def compute() -> QualityReport:
            try:
                rates = self._rows("queries/quality_pass_rate.sql", {"start": start, "end": end})
                failures = self._rows("queries/quality_failures.sql", {"limit": failures_limit})
                days = self._rows("queries/quarantine_days.sql", {"limit": days_limit})
            except sa.exc.ProgrammingError as exc:
                if _is_missing_table(exc):
                    return QualityReport(False, message="This warehouse has no quality history tables yet.")
                raise
            pass_rate = pd.DataFrame(rates, columns=["run_date", "suite", "expectations", "passed", "critical_failed"])
            if not pass_rate.empty:
                pass_rate["pass_rate"] = pass_rate["passed"] / pass_rate["expectations"]
            fail_df = pd.DataFrame(
                failures,
                columns=[
                    "run_date",
                    "suite",
                    "expectation",
                    "severity",
                    "unexpected_count",
                    "element_count",
                    "observed_value",
                    "validated_at",
                ],
            )
            quarantine_days = [(r["run_date"], int(r["quarantined_rows"])) for r in days]
            available = not pass_rate.empty or not fail_df.empty or bool(quarantine_days)
            message = "" if available else "No quality history yet: it appears after the first validated load."
            return QualityReport(available, pass_rate, fail_df, quarantine_days, message)

        return self._cached(("quality", start, end, failures_limit, days_limit), compute)

    def quarantine(self, run_date: date, *, limit: int = 500) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(reasons with counts, the rows themselves) for one day's quarantine."""

        def compute() -> tuple[pd.DataFrame, pd.DataFrame]:
            try:
                reasons = self._rows("queries/quarantine_reasons.sql", {"run_date": run_date})
                rows = self._rows("queries/quarantine_rows.sql", {"run_date": run_date, "limit": limit})
            except sa.exc.ProgrammingError as exc:
                if _is_missing_table(exc):
                    return pd.DataFrame(columns=["reject_reason", "row_count"]), pd.DataFrame()
                raise
            return (
                pd.DataFrame(reasons, columns=["reject_reason", "row_count"]),
                pd.DataFrame(
                    rows, columns=["source_file", "source_row", "reject_reason", "transaction_id", "raw_record"]
                ),
            )

        return self._cached(("quarantine", run_date, limit), compute)


def finite(value: float | None) -> float | None:
    """None for None/NaN/inf (for display code)."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return None
    return value

"""The dashboard's only database access: every query is a parameterised SQL file in
warehouse_sql/queries/ (named by path, values bound by the driver), read through a read-only
session. No SQL is ever built from what a user selects; "All" is passed as NULL.

Speed: a filter change reads the pre-aggregated rollups, never the fact table. Without a state or
city filter (and without a breakdown by state or city) the coarse rollup `agg_daily_region` is
read; otherwise the fine `agg_daily_city`, restricted to the city keys the geography allows.
The rollups hold each transaction's customer segment at transaction time. The one exception is
a choice: the current-segment view (segment filter or breakdown by the customers' current
segment) reads the fact table joined to dim_customer's current versions, slower by design.
Results are kept in a `cachetools.TTLCache` for `ttl_s` seconds under a key that includes the
warehouse's data version (a fingerprint of `load_audit`), so a new load invalidates them at once.

The dashboard never writes and never migrates: on a warehouse that `bap warehouse init` has not
set up, every read is empty and `not_initialised` says so (re-checked with the data version).
The pure logic that turns the rows into a view is ui/view.py.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Final, Literal, TypeVar

import cachetools
import pandas as pd
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import make_url

from flows.dates import date_key, key_date
from flows.warehouse.connection import check_connection, make_engine, redact
from flows.warehouse.sql import sql
from ui.view import (
    ALL,
    Cascade,
    City,
    DailyRow,
    DashboardView,
    FileAccounting,
    Filters,
    Freshness,
    Geography,
    ItemRow,
    QualityReport,
    build_view,
    cascade,
    comparison_dimension,
    trend_dimension,
    uses_fine_rollup,
)

log = logging.getLogger("bap.dashboard")

READER_ROLE: Final[str] = "bap_dashboard_reader"
STATEMENT_TIMEOUT: Final[str] = "30s"
NOT_INITIALISED: Final[str] = (
    "The warehouse is not initialised: run `bap warehouse init` (or load a day with `bap run`). "
    "The dashboard only reads, and shows the data on its next refresh."
)
FAILURE_COLUMNS: Final[tuple[str, ...]] = (
    "run_date",
    "suite",
    "expectation",
    "severity",
    "unexpected_count",
    "element_count",
    "observed_value",
    "validated_at",
)
QUARANTINE_COLUMNS: Final[tuple[str, ...]] = (
    "source_file",
    "source_row",
    "reject_reason",
    "transaction_id",
    "raw_record",
)
T = TypeVar("T")


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
    mode: Literal["role", "configured", "read_only_transactions"]
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
    ) -> None:
        self.engine = engine
        self.notice = notice
        self.ttl_s = ttl_s
        self.cache: cachetools.TTLCache[Any, Any] = cachetools.TTLCache(maxsize=512, ttl=ttl_s)
        self.hits = 0
        self.misses = 0
        self.version_check_s = version_check_s
        self.not_initialised = False
        self._version: tuple[float, tuple[Any, ...]] | None = None
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="bap-dashboard-sql")

    # -- plumbing ---------------------------------------------------------------------------
    def _result(self, name: str, params: dict[str, Any] | None, read: Callable[[sa.CursorResult[Any]], T]) -> T | None:
        """read(the result of the query file `name`) (its path under warehouse_sql/); None while
        the warehouse is not initialised."""
        try:
            with self.engine.connect() as conn:
                return read(conn.exec_driver_sql(sql(name), params or {}))
        except sa.exc.ProgrammingError as exc:
            if not _is_missing_table(exc):
                raise
            return None

    def _rows(self, name: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        return self._result(name, params, lambda result: [dict(r) for r in result.mappings()]) or []

    def _tuples(self, name: str, params: dict[str, Any]) -> Sequence[Sequence[Any]]:
        """The rows as fetched (one fetchall, tuple-like rows for the callers to unpack): the
        view's rows, up to a few thousand a change at 10M facts, where a dict or a tuple copy per
        row cost 2 ms of a new view's 10 ms of Python."""
        return self._result(name, params, lambda result: result.all()) or []

    def _read_version(self) -> tuple[Any, ...]:
        ready = self._rows("queries/warehouse_ready.sql")
        if not ready or not ready[0]["ready"]:
            return ("not initialised",)
        row = self._rows("queries/data_version.sql")[0]
        return (row["last_loaded_at"], row["last_run_at"], row["audited_days"])

    def data_version(self) -> tuple[Any, ...]:
        """Fingerprint of the warehouse contents: changes as soon as a load lands or the warehouse
        is initialised (two tiny queries, re-read at most every `version_check_s` seconds)."""
        now = time.monotonic()
        with self._lock:
            if self._version is not None and now - self._version[0] < self.version_check_s:
                return self._version[1]
        version = self._read_version()
        with self._lock:
            if self._version is not None and self._version[1] != version:
                self.cache.clear()  # results of the old data are never asked for again
            self._version = (now, version)
            self.not_initialised = version == ("not initialised",)
        return version

    def _cached(self, key: tuple[Any, ...], compute: Callable[[], T]) -> T:
        full_key = (self.data_version(), *key)
        with self._lock:
            if full_key in self.cache:
                self.hits += 1
                return self.cache[full_key]  # type: ignore[no-any-return]
        value = compute()
        with self._lock:
            self.misses += 1
            self.cache[full_key] = value
        return value

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
            rows = self._rows("queries/data_bounds.sql")
            if not rows or rows[0]["first_date_key"] is None:
                return None
            return key_date(rows[0]["first_date_key"]), key_date(rows[0]["last_date_key"])

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
        if f.uses_current_segment(trend_dim) or f.uses_current_segment(compare_dim):
            source = "fact_transactions"
        elif uses_fine_rollup(f, trend_dim) or uses_fine_rollup(f, compare_dim):
            source = "agg_daily_city"
        else:
            source = "agg_daily_region"
        view = build_view(f, daily_rows, comparison_rows, source=source)
        view.elapsed_ms = (time.perf_counter() - began) * 1000
        return view

    def _params(
        self, f: Filters, dim: str | None, start: date, end: date, geo: Geography
    ) -> tuple[bool, dict[str, Any]]:
        """(whether the cities are filtered by key, the query's parameters)."""
        fine = uses_fine_rollup(f, dim) or f.uses_current_segment(dim)
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
        city = geo.by_key.get(key)
        if city is None:
            return f"city {key}"
        return {"region": city.region, "state": city.state, "city": city.city_name}[dim]

    def daily_rows(
        self, f: Filters, dim: str | None, fetch_start: date, geo: Geography, names: dict[int, str]
    ) -> list[DailyRow]:
        """(date_key, item, txn_count, failed_count, revenue, processing_time_s_sum) per day x item."""
        fine, params = self._params(f, dim, fetch_start, f.end, geo)
        if f.uses_current_segment(dim):
            name = "queries/dashboard_daily_current_segment.sql"
        else:
            name = "queries/dashboard_daily_fine.sql" if fine else "queries/dashboard_daily_coarse.sql"
        rows = self._tuples(name, params)
        return [(d, self._label(dim, k, n, geo, names), *v) for d, k, n, *v in rows]

    def comparison_rows(self, f: Filters, dim: str, geo: Geography, names: dict[int, str]) -> list[ItemRow]:
        """(item, txn_count, failed_count, revenue, processing_time_s_sum) per item of the period."""
        fine, params = self._params(f, dim, f.start, f.end, geo)
        if f.uses_current_segment(dim):
            name = "queries/dashboard_compare_current_segment.sql"
        else:
            name = "queries/dashboard_compare_fine.sql" if fine else "queries/dashboard_compare_coarse.sql"
        rows = self._tuples(name, params)
        return [(self._label(dim, k, n, geo, names), *v) for k, n, *v in rows]

    # -- freshness and quality --------------------------------------------------------------
    def freshness(self, *, files: int = 7) -> Freshness:
        """The last loaded day and run, and the accounting of the latest `files` loaded file days."""

        def compute() -> Freshness:
            rows = self._rows("queries/freshness.sql")
            accounting = self._rows("queries/freshness_files.sql", {"limit": files})
            return Freshness(**(rows[0] if rows else {}), files=tuple(FileAccounting(**r) for r in accounting))

        return self._cached(("freshness", files), compute)

    def quality(self, start: date, end: date, *, failures_limit: int = 50, days_limit: int = 120) -> QualityReport:
        """Pass rate per suite per day in [start, end], the latest failures, quarantined days and
        the period's quarantined rows by reason."""

        def compute() -> QualityReport:
            rates = self._rows("queries/quality_pass_rate.sql", {"start": start, "end": end})
            failures = self._rows("queries/quality_failures.sql", {"limit": failures_limit})
            days = self._rows("queries/quarantine_days.sql", {"limit": days_limit})
            reasons = self._rows("queries/quarantine_reasons_period.sql", {"start": start, "end": end})
            return QualityReport.of(rates, failures, days, reasons, columns=FAILURE_COLUMNS)

        return self._cached(("quality", start, end, failures_limit, days_limit), compute)

    def quarantine(self, run_date: date, *, limit: int = 500) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(reasons with counts, the rows themselves) for one day's quarantine."""

        def compute() -> tuple[pd.DataFrame, pd.DataFrame]:
            reasons = self._rows("queries/quarantine_reasons.sql", {"run_date": run_date})
            rows = self._rows("queries/quarantine_rows.sql", {"run_date": run_date, "limit": limit})
            return (
                pd.DataFrame(reasons, columns=["reject_reason", "row_count"]),
                pd.DataFrame(rows, columns=list(QUARANTINE_COLUMNS)),
            )

        return self._cached(("quarantine", run_date, limit), compute)

"""The query module against the hand-built warehouse of conftest.py; every expected figure is
worked out by hand from the table in that module's docstring."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime

import pandas as pd
import pytest
import sqlalchemy as sa

from tests.ui.conftest import Fact, add_day
from ui.queries import DashboardQueries, open_reader
from ui.view import (
    EXPORT_COLUMNS,
    City,
    DashboardView,
    Filters,
    Geography,
    build_view,
    cascade,
    comparison_dimension,
    export_csv,
    trend_dimension,
    uses_fine_rollup,
)

JAN = lambda d: date(2024, 1, d)  # noqa: E731
SECOND_HALF = Filters(JAN(6), JAN(10))  # previous period: 1-5 January


@pytest.fixture(scope="module")
def queries(small_warehouse: str) -> Iterator[DashboardQueries]:
    access = open_reader(small_warehouse)
    q = DashboardQueries(access.engine, ttl_s=600)
    yield q
    access.engine.dispose()


# --- KPIs -----------------------------------------------------------------------------------------


def test_kpis_of_a_period_and_its_previous_period(queries: DashboardQueries) -> None:
    k = queries.view(SECOND_HALF).kpis
    # days 6-9: T1 T2 T3 T4 (4 rows, 1 failed); day 10 adds T5 (failed)
    assert k.current.txn_count == 21
    assert k.current.failed_count == 6
    # success revenue: sum(0.5 d + 4 + 15 for d = 6..10) = 15 + 95 = 115 (T3, T5 failed: excluded)
    assert k.current.revenue == pytest.approx(115.0)
    assert k.current.failure_rate == pytest.approx(6 / 21)
    assert k.current.avg_processing_s == pytest.approx(56 / 21)  # 4 x 10 s + 16 s
    assert (k.previous_start, k.previous_end) == (JAN(1), JAN(5))
    assert k.previous.txn_count == 15 and k.previous.failed_count == 5
    assert k.previous.revenue == pytest.approx(27.5)  # sum(0.5 d + 4 for d = 1..5)
    assert k.change("revenue") == pytest.approx((115 - 27.5) / 27.5)
    assert k.change("txn_count") == pytest.approx(0.4)
    assert k.change("failure_rate") == pytest.approx(6 / 21 - 1 / 3)  # difference, in points
    assert k.change("avg_processing_s") == pytest.approx((56 / 21 - 2.0) / 2.0)


def test_no_previous_data_means_no_change(queries: DashboardQueries) -> None:
    k = queries.view(Filters(JAN(1), JAN(5))).kpis
    assert k.current.txn_count == 15
    assert k.previous.txn_count == 0
    assert k.change("revenue") is None and k.change("failure_rate") is None


@pytest.mark.parametrize(
    "filters, count, failed, revenue",
    [
        (replace(SECOND_HALF, region="West"), 11, 6, 20.0),  # T1 x5, T3 x5, T5
        (replace(SECOND_HALF, state="Maharashtra"), 10, 5, 20.0),  # T1, T3
        (replace(SECOND_HALF, region="West", state="Maharashtra", city="Pune"), 5, 0, 20.0),
        (replace(SECOND_HALF, channel="UPI"), 6, 1, 20.0),
        (replace(SECOND_HALF, segment="SME"), 6, 1, 20.0),  # T2 x5, T5
        (replace(SECOND_HALF, channel="UPI", segment="SME"), 1, 1, 0.0),  # T5 only
        (replace(SECOND_HALF, region="South", channel="Net Banking"), 5, 0, 75.0),
    ],
)
def test_kpis_under_dimension_filters(
    queries: DashboardQueries, filters: Filters, count: int, failed: int, revenue: float
) -> None:
    k = queries.view(filters).kpis.current
    assert (k.txn_count, k.failed_count) == (count, failed)
    assert k.revenue == pytest.approx(revenue)


def test_a_filter_combination_without_rows_gives_an_empty_view(queries: DashboardQueries) -> None:
    view = queries.view(replace(SECOND_HALF, region="South", channel="Debit Card"))  # Debit Card: Mumbai only
    assert view.empty
    assert view.kpis.current.txn_count == 0
    assert view.kpis.current.failure_rate is None
    assert view.daily.empty and view.trend.empty and view.comparison.empty
    assert export_csv(view).splitlines() == [",".join(EXPORT_COLUMNS)]  # the header alone


def test_unknown_values_match_nothing_instead_of_everything(queries: DashboardQueries) -> None:
    for f in (
        replace(SECOND_HALF, channel="Cheque"),
        replace(SECOND_HALF, segment="VIP"),
        replace(SECOND_HALF, region="Atlantis"),
        replace(SECOND_HALF, state="Atlantis"),
        replace(SECOND_HALF, city="Atlantis"),
    ):
        assert queries.view(f).empty, f


# --- trends and moving averages ---------------------------------------------------------------------


def test_daily_totals_and_their_7_day_moving_averages(queries: DashboardQueries) -> None:
    daily = queries.view(SECOND_HALF).daily.set_index("date")
    assert list(daily.index.date) == [JAN(d) for d in range(6, 11)]
    day10 = daily.loc[pd.Timestamp(JAN(10))]
    assert day10["txn_count"] == 5 and day10["failed_count"] == 2
    assert day10["revenue"] == pytest.approx(24.0)
    # window 4..10 January: revenue 6 + 6.5 + 22 + 22.5 + 23 + 23.5 + 24 over 7 days
    assert day10["revenue_ma7"] == pytest.approx(127.5 / 7)
    # failures 8 of 27 transactions; processing 68 s over 27 transactions
    assert day10["failure_rate_ma7"] == pytest.approx(8 / 27)
    assert day10["avg_processing_s_ma7"] == pytest.approx(68 / 27)
    # 6 January: the window holds the 6 loaded days 1..6 (nothing was loaded on 31 December)
    day6 = daily.loc[pd.Timestamp(JAN(6))]
    assert day6["revenue_ma7"] == pytest.approx((4.5 + 5 + 5.5 + 6 + 6.5 + 22) / 6)
    assert day6["failure_rate_ma7"] == pytest.approx(6 / 19)


def test_trend_breaks_down_by_the_top_channels_with_their_own_averages(queries: DashboardQueries) -> None:
    view = queries.view(SECOND_HALF)
    assert view.trend_dimension == "channel"
    assert view.trend_items == ["UPI", "Credit Card", "Debit Card", "Net Banking"]  # 6, 5, 5, 5 transactions
    t = view.trend.set_index(["item", "date"])
    upi10 = t.loc[("UPI", pd.Timestamp(JAN(10)))]
    assert upi10["revenue"] == pytest.approx(5.0)  # T5 failed
    assert upi10["revenue_ma7"] == pytest.approx((2 + 2.5 + 3 + 3.5 + 4 + 4.5 + 5) / 7)
    assert upi10["failure_rate"] == pytest.approx(0.5)
    assert upi10["failure_rate_ma7"] == pytest.approx(1 / 8)
    # Net Banking starts on day 6: the loaded days before count as zero revenue in its window
    nb6 = t.loc[("Net Banking", pd.Timestamp(JAN(6)))]
    assert nb6["revenue_ma7"] == pytest.approx(15.0 / 6)


def test_trend_without_breakdown_when_every_dimension_is_set(queries: DashboardQueries) -> None:
    f = replace(SECOND_HALF, region="West", state="Maharashtra", city="Pune", channel="UPI", segment="Retail")
    view = queries.view(f)
    assert view.trend_dimension is None
    assert view.trend_items == ["All"]
    assert view.kpis.current.txn_count == 5


def test_comparison_by_channel_by_default(queries: DashboardQueries) -> None:
    c = queries.view(SECOND_HALF).comparison.set_index("item")
    assert list(c.index) == ["UPI", "Credit Card", "Debit Card", "Net Banking"]
    assert c.loc["UPI", "failure_rate"] == pytest.approx(1 / 6)
    assert c.loc["UPI", "avg_processing_s"] == pytest.approx(11 / 6)
    assert c.loc["Debit Card", "failure_rate"] == pytest.approx(1.0)
    assert c.loc["Net Banking", "avg_processing_s"] == pytest.approx(4.0)


@pytest.mark.parametrize(
    "filters, dimension, items, source",
    [
        (replace(SECOND_HALF, region="West"), "state", ["Maharashtra", "Gujarat"], "agg_daily_city"),
        (replace(SECOND_HALF, state="Maharashtra"), "city", ["Mumbai", "Pune"], "agg_daily_city"),
        (replace(SECOND_HALF, channel="UPI"), "region", ["West"], "agg_daily_region"),
        (replace(SECOND_HALF, segment="SME"), "channel", ["Credit Card", "UPI"], "agg_daily_region"),
    ],
)
def test_comparison_drills_into_the_filter_that_is_set(
    queries: DashboardQueries, filters: Filters, dimension: str, items: list[str], source: str
) -> None:
    view = queries.view(filters)
    assert view.comparison_dimension == dimension
    assert view.comparison["item"].tolist() == items
    assert view.source == source


def test_fine_and_coarse_rollups_agree(queries: DashboardQueries) -> None:
    geo, names = queries.geography(), queries.channel_names()
    f = replace(SECOND_HALF, region="West")
    coarse = queries.daily_rows(f, "channel", JAN(1), geo, names)
    fine = queries.daily_rows(f, "state", JAN(1), geo, names)  # a state breakdown needs the fine rollup
    assert {r[1] for r in coarse} == {"UPI", "Debit Card"}
    assert {r[1] for r in fine} == {"Maharashtra", "Gujarat"}
    for column in (2, 3, 4, 5):
        assert sum(r[column] for r in coarse) == pytest.approx(sum(r[column] for r in fine))


def test_export_is_the_daily_table_of_the_view(queries: DashboardQueries) -> None:
    view = queries.view(SECOND_HALF)
    frame = pd.read_csv(io.StringIO(export_csv(view)))
    assert list(frame.columns)[:5] == ["date", "transactions", "failed", "failure_rate_pct", "revenue_success"]
    assert frame["date"].tolist() == [f"{d:%Y-%m-%d}" for d in view.daily["date"]]
    assert frame["transactions"].tolist() == [4, 4, 4, 4, 5]
    assert frame["revenue_success"].sum() == pytest.approx(115.0)
    rates = (view.daily["failure_rate"] * 100).round(3)
    assert frame["failure_rate_pct"].tolist() == pytest.approx(rates.tolist(), nan_ok=True)


def test_the_export_leaves_a_rate_without_transactions_empty() -> None:
    days = pd.to_datetime(["2024-01-01", "2024-01-02"])
    daily = pd.DataFrame(
        {
            "date": days,
            "txn_count": [0.0, 3.0],
            "failed_count": [0.0, 1.0],
            "revenue": [0.0, 12.346],
            "avg_processing_s": [float("nan"), 2.0],
            "failure_rate": [float("nan"), 1 / 3],
            "revenue_ma7": [0.0, 6.174],
            "failure_rate_ma7": [float("nan"), 1 / 3],
            "avg_processing_s_ma7": [float("nan"), 2.0],
        }
    )
    view = replace(build_view(SECOND_HALF, [], [], source="agg_daily_region"), daily=daily)
    assert export_csv(view).splitlines()[1:] == [
        "2024-01-01,0,0,,0.0,,0.0,,",
        "2024-01-02,3,1,33.333,12.35,2.0,6.17,33.333,2.0",
    ]


# --- top N (pure: more items than the warehouse above has) -------------------------------------------


def _rows(items: list[tuple[str, int]], days: list[int]) -> list[tuple]:
    return [(20240100 + d, name, n, 0, n, n) for d in days for name, n in items]


def test_top_4_trend_items_and_top_6_comparison_items() -> None:
    items = [(f"city{i}", 10 + i) for i in range(8)]  # city7 is the busiest
    f = Filters(JAN(2), JAN(3), state="Somewhere", channel="UPI")  # trend and comparison by city
    rows = _rows(items, [1, 2, 3])
    comparison = [(n, c, 0, 0, c) for n, c in items]
    view = build_view(f, rows, comparison, source="agg_daily_city")
    assert view.trend_dimension == "city"
    assert view.trend_items == ["city7", "city6", "city5", "city4"]
    assert view.trend_item_count == 8
    assert view.comparison["item"].tolist() == ["city7", "city6", "city5", "city4", "city3", "city2"]
    assert view.comparison_item_count == 8


# --- dimensions and cascade -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, trend, compare",
    [
        ({}, "channel", "channel"),
        ({"channel": "UPI"}, "region", "region"),
        ({"region": "West"}, "channel", "state"),
        ({"region": "West", "channel": "UPI"}, "state", "state"),
        ({"state": "Maharashtra"}, "channel", "city"),
        ({"state": "Maharashtra", "city": "Pune"}, "channel", "channel"),
        ({"city": "Pune", "channel": "UPI"}, "segment", "segment"),
        ({"segment": "SME"}, "channel", "channel"),
        ({"city": "Pune", "channel": "UPI", "segment": "SME"}, None, "channel"),
    ],
)
def test_which_dimensions_a_view_breaks_down_by(kwargs: dict, trend: str | None, compare: str) -> None:
    f = Filters(JAN(1), JAN(2), **kwargs)
    assert trend_dimension(f) == trend
    assert comparison_dimension(f) == compare


@pytest.mark.parametrize(
    "kwargs, dim, fine",
    [
        ({}, "channel", False),
        ({"region": "West"}, "channel", False),
        ({"region": "West"}, "state", True),
        ({"state": "Maharashtra"}, "channel", True),
        ({"city": "Pune"}, "segment", True),
    ],
)
def test_queries_route_to_the_fine_rollup_only_for_state_and_city(kwargs: dict, dim: str, fine: bool) -> None:
    assert uses_fine_rollup(Filters(JAN(1), JAN(2), **kwargs), dim) is fine


def test_cascading_options_from_the_warehouse(queries: DashboardQueries) -> None:
    everything = queries.cascade(None, None, None)
    assert everything.regions == ["South", "West"]
    assert everything.states == ["Gujarat", "Karnataka", "Maharashtra", "Tamil Nadu"]
    assert everything.cities == ["Ahmedabad", "Bengaluru", "Chennai", "Mumbai", "Pune"]
    west = queries.cascade("West", None, None)
    assert west.states == ["Gujarat", "Maharashtra"]
    assert west.cities == ["Ahmedabad", "Mumbai", "Pune"]
    maharashtra = queries.cascade("West", "Maharashtra", "Pune")
    assert maharashtra.cities == ["Mumbai", "Pune"] and maharashtra.city == "Pune"
    assert queries.channels() == ["Credit Card", "Debit Card", "UPI", "Net Banking"]
    assert queries.segments() == ["Corporate", "Retail", "SME"]


def test_a_parent_change_never_leaves_an_impossible_child() -> None:
    geo = Geography((City(1, "Pune", "Maharashtra", "West"), City(2, "Chennai", "Tamil Nadu", "South")))
    moved = cascade(geo, "South", "Maharashtra", "Pune")  # was West > Maharashtra > Pune
    assert (moved.region, moved.state, moved.city) == ("South", None, None)
    assert moved.states == ["Tamil Nadu"] and moved.cities == ["Chennai"]
    kept = cascade(geo, "West", "Maharashtra", "Pune")
    assert (kept.region, kept.state, kept.city) == ("West", "Maharashtra", "Pune")
    # a value that exists nowhere stays a plain value that matches nothing
    unknown = cascade(geo, "Atlantis", None, None)
    assert unknown.region == "Atlantis" and unknown.states == [] and geo.city_keys("Atlantis", None, None) == []


# --- freshness, quality, cache, read-only access ------------------------------------------------------


def test_freshness_names_the_last_loaded_day_and_run(queries: DashboardQueries) -> None:
    fresh = queries.freshness()
    assert fresh.last_loaded_day == JAN(10)
    assert fresh.last_loaded_at == datetime(2024, 1, 11, 2, 30, tzinfo=UTC)
    assert fresh.last_run_status == "loaded"
    assert queries.bounds() == (JAN(1), JAN(10))


def test_freshness_shows_each_files_exact_accounting(engine: sa.Engine, warehouse_url: str) -> None:
    """Through the real load: the file of 2 May re-sends three transactions of 1 May (corrections),
    carries two late records of 1 May, one quarantined record and one duplicate."""
    from tests.warehouse.conftest import Txn, at, file_day, load

    may1, may2 = date(2024, 5, 1), date(2024, 5, 2)
    load(engine, file_day(may1, [Txn(f"A-{i:03d}", at(may1, i % 24)) for i in range(100)]))
    own = [Txn(f"B-{i:03d}", at(may2, i % 24)) for i in range(100)]
    resent = [Txn(f"A-{i:03d}", at(may2, 9), status="FAILED") for i in (1, 2, 3)]
    late = [Txn("LATE-1", at(may1, 23)), Txn("LATE-2", at(may1, 22))]
    load(engine, file_day(may2, own + resent + late, quarantined=1, duplicates=1))

    access = open_reader(warehouse_url)
    q = DashboardQueries(access.engine, ttl_s=600)
    fresh = q.freshness()
    access.engine.dispose()
    second, first = fresh.files
    assert (second.run_date, first.run_date) == (may2, may1)
    # 107 received = 103 into 2 May + 2 into 1 May + 0 superseded + 1 quarantined + 1 duplicate
    assert (second.rows_received, second.loaded_own_day, second.rows_loaded_earlier) == (107, 103, 2)
    assert (second.rows_corrections, second.rows_superseded) == (3, 0)
    assert (second.rows_quarantined, second.duplicates_dropped) == (1, 1)
    # 1 May's file: three of its versions superseded by the file of 2 May, which changed its day
    assert (first.rows_received, first.rows_loaded, first.rows_superseded) == (100, 97, 3)
    assert first.changed_by == may2 and second.changed_by is None
    assert second.balanced and first.balanced


def test_segment_at_transaction_time_or_current_is_a_choice(engine: sa.Engine, warehouse_url: str) -> None:
    """C1 was Retail in May (two transactions) and is Premium since June (one); C2 stays SME."""
    import pyarrow as pa

    from flows.warehouse.customers import load_customers
    from tests.warehouse.conftest import Txn, at, file_day, load

    def feed(c1_segment: str) -> pa.Table:
        return pa.table(
            {
                "customer_id": ["C1", "C2"],
                "customer_name": ["Asha Rao", "Ravi Iyer"],
                "segment": [c1_segment, "SME"],
                "signup_date": ["2020-01-01", "2020-01-01"],
            }
        )

    may, june = date(2024, 5, 1), date(2024, 6, 1)
    load_customers(engine, feed("Retail"), may)
    load(engine, file_day(may, [Txn("A1", at(may), customer_id="C1"), Txn("A2", at(may, 13), customer_id="C1")]))
    load_customers(engine, feed("Premium"), june)
    load(engine, file_day(june, [Txn("B1", at(june), customer_id="C1"), Txn("B2", at(june), customer_id="C2")]))

    access = open_reader(warehouse_url)
    q = DashboardQueries(access.engine, ttl_s=600)
    then = Filters(may, june)
    now = replace(then, segment_as="current")

    def counts(view: DashboardView) -> dict[str, int]:
        return dict(zip(view.comparison["item"], view.comparison["txn_count"].astype(int), strict=True))

    # broken down by segment: C1's May transactions count as Retail in one view, as Premium in the other
    assert comparison_dimension(replace(then, city="Mumbai", channel="Credit Card")) == "segment"
    by_then = q.view(replace(then, city="Mumbai", channel="Credit Card"))
    by_now = q.view(replace(now, city="Mumbai", channel="Credit Card"))
    assert counts(by_then) == {"Retail": 2, "Premium": 1, "SME": 1}
    assert counts(by_now) == {"Premium": 3, "SME": 1}
    assert (by_then.source, by_now.source) == ("agg_daily_city", "fact_transactions")
    # filtered by segment
    assert q.view(replace(then, segment="Premium")).kpis.current.txn_count == 1
    assert q.view(replace(now, segment="Premium")).kpis.current.txn_count == 3
    assert q.view(replace(now, segment="Retail")).kpis.current.txn_count == 0
    # without a segment filter or breakdown both views are the same, from the rollups
    plain_now = q.view(now)
    assert plain_now.kpis.current.txn_count == q.view(then).kpis.current.txn_count == 4
    assert plain_now.source == "agg_daily_region"
    access.engine.dispose()


def test_quality_tab_without_history_degrades_gracefully(queries: DashboardQueries) -> None:
    report = queries.quality(JAN(1), JAN(10))
    assert not report.available
    assert "No quality history" in report.message


def test_results_are_cached_until_a_new_load_lands(warehouse_url: str) -> None:
    from tests.ui.conftest import build_small_warehouse

    build_small_warehouse(warehouse_url)
    access = open_reader(warehouse_url)
    q = DashboardQueries(access.engine, ttl_s=3600, version_check_s=0)
    f = Filters(JAN(1), JAN(11))
    assert q.view(f).kpis.current.txn_count == 36
    misses = q.misses
    assert q.view(f).kpis.current.txn_count == 36
    assert q.misses == misses  # served from the cache
    writer = sa.create_engine(warehouse_url, poolclass=sa.pool.NullPool)
    with writer.begin() as conn:  # the pipeline loads 11 January
        add_day(
            conn,
            JAN(11),
            [Fact("T9", "UPI", 1, 1, "SUCCESS", 10.0, 0.05, 1.0)],
            loaded_at=datetime(2024, 1, 12, 3, tzinfo=UTC),
        )
    writer.dispose()
    assert q.view(f).kpis.current.txn_count == 37
    assert q.freshness().last_loaded_day == JAN(11)
    access.engine.dispose()


def test_reader_sessions_use_the_read_only_role_and_cannot_write(small_warehouse: str) -> None:
    access = open_reader(small_warehouse)
    assert access.mode == "role" and access.notice is None
    with access.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT current_user").scalar() == "bap_dashboard_reader"
        with pytest.raises(sa.exc.DBAPIError, match="read-only transaction"):
            conn.exec_driver_sql("DELETE FROM load_audit")
    access.engine.dispose()


def test_reader_falls_back_and_says_so_without_the_role(small_warehouse: str) -> None:
    access = open_reader(small_warehouse, role="bap_no_such_role_for_tests")
    assert access.mode == "read_only_transactions"
    assert "bap_no_such_role_for_tests" in access.notice and "read-only transactions" in access.notice
    q = DashboardQueries(access.engine, notice=access.notice)
    assert q.view(SECOND_HALF).kpis.current.txn_count == 21
    with access.engine.connect() as conn, pytest.raises(sa.exc.DBAPIError, match="read-only transaction"):
        conn.exec_driver_sql("DELETE FROM load_audit")
    access.engine.dispose()

"""The warehouse suite on a real PostgreSQL: a day loaded by the real loader passes; a missing row,
an orphan key or a wrong revenue fail critically; rollups that drift only warn."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa

from flows.quality import check_warehouse_day
from flows.warehouse.load import load_day
from tests.quality.conftest import DAY

DATE_KEY = 20240115


def failed(report) -> dict[str, str]:
    return {o.expectation: o.severity for o in report.outcomes if not o.success}


def test_a_day_loaded_by_the_loader_passes(engine: sa.Engine, clean_day) -> None:
    load_day(
        engine, clean_day.clean, source="synthetic", sha256="0" * 64, flow_run_id="test", started_at=datetime.now(UTC)
    )
    rows = clean_day.processed.num_rows
    report = check_warehouse_day(engine, DAY, expected_rows=rows)
    assert report.passed and not report.warnings, failed(report)
    assert report.suite == "warehouse" and report.data_docs_url is None
    assert report.outcome("expect_fact_row_count_to_equal_processed_rows").observed_value == {
        "fact_rows": rows,
        "processed_rows": rows,
    }
    assert {o.expectation for o in report.outcomes} == {
        "expect_fact_row_count_to_equal_processed_rows",
        "expect_fact_foreign_keys_to_exist:customer_key",
        "expect_fact_foreign_keys_to_exist:channel_key",
        "expect_fact_foreign_keys_to_exist:city_key",
        "expect_fact_foreign_keys_to_exist:date_key",
        "expect_fact_revenue_to_match_amount_times_fee",
        "expect_fact_fee_percent_to_match_dim_channel",
        "expect_rollup_to_match_fact:agg_daily_city",
        "expect_rollup_to_match_fact:agg_daily_region",
    }


# --- a tiny warehouse built by hand ------------------------------------------------------------

FACTS = [  # transaction_id, channel_key, amount, status, fee_percent, revenue
    ("T1", 1, "100.00", "SUCCESS", "2.00", "2.00"),
    ("T2", 3, "10.01", "SUCCESS", "0.50", "0.05"),  # 0.05005 rounds half up to 0.05
    ("T3", 2, "55.50", "FAILED", "1.00", "0.00"),
]


def _insert_fact(
    conn: sa.Connection,
    ids: dict,
    transaction_id: str,
    channel_key: int,
    amount: str,
    status: str,
    fee: str,
    revenue: str,
    *,
    customer_key: int | None = None,
) -> None:
    conn.exec_driver_sql(
        "INSERT INTO fact_transactions (date_key, transaction_id, customer_key, channel_key, city_key, transaction_ts,"
        " amount, status, processing_time_s, processing_delay_bucket, fee_percent, revenue, file_date) VALUES"
        " (%(d)s, %(t)s, %(cu)s, %(ch)s, %(ci)s, '2024-01-15 10:00:00+00', %(a)s, %(s)s, 1.5, 'fast', %(f)s, %(r)s,"
        " '2024-01-15')",
        {
            "d": DATE_KEY,
            "t": transaction_id,
            "cu": customer_key or ids["customer"],
            "ch": channel_key,
            "ci": ids["city"],
            "a": Decimal(amount),
            "s": status,
            "f": Decimal(fee),
            "r": Decimal(revenue),
        },
    )


def _rebuild_rollups(conn: sa.Connection) -> None:
    for table in ("agg_daily_city", "agg_daily_region"):
        conn.exec_driver_sql(f"DELETE FROM {table} WHERE date_key = {DATE_KEY}")
    conn.exec_driver_sql(
        "INSERT INTO agg_daily_city SELECT f.date_key, f.channel_key, f.city_key, 'Retail', f.status, count(*),"
        " sum(f.amount), sum(f.revenue), sum(f.processing_time_s) FROM fact_transactions f"
        f" WHERE f.date_key = {DATE_KEY} GROUP BY 1, 2, 3, 5"
    )
    conn.exec_driver_sql(
        "INSERT INTO agg_daily_region SELECT a.date_key, a.channel_key, 'West', a.segment, a.status, sum(a.txn_count),"
        f" sum(a.amount_sum), sum(a.revenue_sum), sum(a.processing_time_sum) FROM agg_daily_city a WHERE a.date_key = {DATE_KEY}"
        " GROUP BY 1, 2, 3, 4, 5"
    )


@pytest.fixture
def tiny_day(engine: sa.Engine) -> dict:
    """Day 2024-01-15 with the three FACTS, its dimensions and matching rollups."""
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO dim_date VALUES (%(d)s, '2024-01-15', 15, 1, 1, 2024, 1, 'Monday', 1)", {"d": DATE_KEY}
        )
        customer = conn.exec_driver_sql(
            "INSERT INTO dim_customer (customer_id) VALUES ('CUST-000001') RETURNING customer_key"
        ).scalar_one()
        city = conn.exec_driver_sql(
            "INSERT INTO dim_city (city_name, state, region) VALUES ('Mumbai', 'Maharashtra', 'West') RETURNING city_key"
        ).scalar_one()
        conn.exec_driver_sql(
            f"CREATE TABLE fact_transactions_d{DATE_KEY} PARTITION OF fact_transactions"
            f" FOR VALUES FROM ({DATE_KEY}) TO ({DATE_KEY + 1})"
        )
        ids = {"customer": customer, "city": city}
        for fact in FACTS:
            _insert_fact(conn, ids, *fact)
        _rebuild_rollups(conn)
    return ids


@pytest.mark.parametrize("late_arrival_days", [0, 7])
def test_the_tiny_day_passes(engine: sa.Engine, tiny_day: dict, late_arrival_days: int) -> None:
    # The load reports 3 rows loaded from the file; a file whose late window holds no other day's rows.
    report = check_warehouse_day(engine, DAY, expected_rows=len(FACTS), late_arrival_days=late_arrival_days)
    assert report.passed and not report.warnings, failed(report)


def test_a_missing_row_fails_the_row_count(engine: sa.Engine, tiny_day: dict) -> None:
    report = check_warehouse_day(engine, DAY, expected_rows=len(FACTS) + 1)
    assert failed(report) == {"expect_fact_row_count_to_equal_processed_rows": "critical"}
    outcome = report.outcome("expect_fact_row_count_to_equal_processed_rows")
    assert outcome.observed_value == {"fact_rows": 3, "processed_rows": 4} and outcome.unexpected_count == 1
    assert not report.passed


def test_an_orphan_foreign_key_fails(engine: sa.Engine, tiny_day: dict) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql("SET LOCAL session_replication_role = replica")  # lets the orphan past the FK
        _insert_fact(conn, tiny_day, "T4", 1, "10.00", "SUCCESS", "2.00", "0.20", customer_key=999_999)
        _rebuild_rollups(conn)
    report = check_warehouse_day(engine, DAY, expected_rows=len(FACTS) + 1)
    assert failed(report) == {"expect_fact_foreign_keys_to_exist:customer_key": "critical"}
    outcome = report.outcome("expect_fact_foreign_keys_to_exist:customer_key")
    assert (outcome.unexpected_count, outcome.element_count) == (1, 4)


@pytest.mark.parametrize(
    "fact, expectation",
    [
        (("T4", 1, "10.00", "SUCCESS", "2.00", "0.25"), "expect_fact_revenue_to_match_amount_times_fee"),
        (("T4", 1, "10.00", "FAILED", "2.00", "0.20"), "expect_fact_revenue_to_match_amount_times_fee"),
        (("T4", 1, "10.00", "SUCCESS", "1.00", "0.10"), "expect_fact_fee_percent_to_match_dim_channel"),
    ],
    ids=["revenue off", "failed earns", "fee not the channel's"],
)
def test_inconsistent_revenue_fails(engine: sa.Engine, tiny_day: dict, fact: tuple, expectation: str) -> None:
    with engine.begin() as conn:
        _insert_fact(conn, tiny_day, *fact)
        _rebuild_rollups(conn)
    report = check_warehouse_day(engine, DAY, expected_rows=len(FACTS) + 1)
    assert failed(report) == {expectation: "critical"}
    assert report.outcome(expectation).unexpected_count == 1


def test_rollups_that_drift_only_warn(engine: sa.Engine, tiny_day: dict) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql(
            f"UPDATE agg_daily_region SET revenue_sum = revenue_sum + 1 WHERE date_key = {DATE_KEY}"
            " AND status = 'SUCCESS' AND channel_key = 1"
        )
    report = check_warehouse_day(engine, DAY, expected_rows=len(FACTS))
    assert report.passed
    assert [o.expectation for o in report.warnings] == ["expect_rollup_to_match_fact:agg_daily_region"]
    observed = report.warnings[0].observed_value
    assert observed["rollup"]["revenue"] == pytest.approx(observed["fact"]["revenue"] + 1)


def test_the_check_sees_the_uncommitted_day_of_its_connection(engine: sa.Engine, tiny_day: dict) -> None:
    with engine.connect() as conn:
        with conn.begin():
            conn.exec_driver_sql(f"DELETE FROM fact_transactions WHERE date_key = {DATE_KEY} AND transaction_id = 'T3'")
            inside = check_warehouse_day(conn, DAY, expected_rows=len(FACTS))
            conn.rollback()
    assert "expect_fact_row_count_to_equal_processed_rows" in failed(inside)
    assert check_warehouse_day(engine, DAY, expected_rows=len(FACTS)).passed


def test_a_day_never_loaded_fails_unless_nothing_was_expected(engine: sa.Engine) -> None:
    assert not check_warehouse_day(engine, date(2030, 1, 1), expected_rows=10).passed
    assert check_warehouse_day(engine, date(2030, 1, 1), expected_rows=0).passed

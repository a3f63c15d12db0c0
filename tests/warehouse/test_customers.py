"""Customer history (SCD type 2): facts point at the version in force at their time."""

from __future__ import annotations

from datetime import date

import pyarrow as pa
import sqlalchemy as sa

from flows.generate import generate_customers
from flows.warehouse.customers import load_customers
from tests.warehouse.conftest import Txn, at, file_day, load

D1, D2 = date(2024, 5, 1), date(2024, 6, 1)


def _feed(segment: str, name: str = "Asha Rao") -> pa.Table:
    return pa.table(
        {"customer_id": ["C1"], "customer_name": [name], "segment": [segment], "signup_date": ["2020-01-01"]}
    )


def _segments_by_day(engine: sa.Engine) -> list[tuple[object, ...]]:
    with engine.connect() as conn:
        return conn.exec_driver_sql(
            "SELECT date_key, segment, sum(txn_count) FROM agg_daily_region GROUP BY 1, 2 ORDER BY 1, 2"
        ).all()


def test_a_segment_change_opens_a_version_and_facts_join_the_version_of_their_time(engine: sa.Engine) -> None:
    load_customers(engine, _feed("Retail"), D1)
    load(engine, file_day(D1, [Txn("A", at(D1), customer_id="C1")]))
    load_customers(engine, _feed("Premium"), D2)
    load(engine, file_day(D2, [Txn("B", at(D2), customer_id="C1")]))
    with engine.connect() as conn:
        versions = conn.exec_driver_sql(
            "SELECT segment, valid_to IS NULL, is_current FROM dim_customer WHERE customer_id = 'C1' ORDER BY valid_from"
        ).all()
        as_of = dict(
            conn.exec_driver_sql(
                "SELECT f.transaction_id, c.segment FROM fact_transactions f JOIN dim_customer c USING (customer_key)"
                " WHERE f.transaction_ts >= c.valid_from AND (c.valid_to IS NULL OR f.transaction_ts < c.valid_to)"
            ).all()
        )
    assert versions == [("Retail", False, False), ("Premium", True, True)]
    assert as_of == {"A": "Retail", "B": "Premium"}
    assert _segments_by_day(engine) == [(20240501, "Retail", 1), (20240601, "Premium", 1)]


def test_a_change_applied_after_its_days_were_loaded_moves_their_facts_to_the_new_version(engine: sa.Engine) -> None:
    load_customers(engine, _feed("Retail"), D1)
    load(engine, file_day(D2, [Txn("B", at(D2), customer_id="C1")]))
    load_customers(engine, _feed("SME"), D2)
    assert _segments_by_day(engine) == [(20240601, "SME", 1)]


def test_inferred_customers_become_real_without_breaking_their_facts(engine: sa.Engine) -> None:
    load(engine, file_day(D1, [Txn("A", at(D1), customer_id="C1")]))
    with engine.connect() as conn:
        key = conn.exec_driver_sql("SELECT customer_key FROM dim_customer WHERE is_inferred").scalar()
    assert _segments_by_day(engine) == [(20240501, "Unknown", 1)]
    load_customers(engine, _feed("Corporate"), D2)
    with engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT customer_key, segment, is_inferred FROM dim_customer").all()
        fact_key = conn.exec_driver_sql("SELECT customer_key FROM fact_transactions").scalar()
    assert rows == [(key, "Corporate", False)] and fact_key == key
    assert _segments_by_day(engine) == [(20240501, "Corporate", 1)]


def test_the_generated_feed_changes_about_two_percent_of_segments_a_month_deterministically() -> None:
    jan = generate_customers(1000, 42, as_of=date(2024, 1, 15)).column("segment").to_pylist()
    feb = generate_customers(1000, 42, as_of=date(2024, 2, 1)).column("segment").to_pylist()
    changed = sum(a != b for a, b in zip(jan, feb, strict=True))
    assert changed == 20
    again = generate_customers(1000, 42, as_of=date(2024, 2, 20))
    assert again.equals(generate_customers(1000, 42, as_of=date(2024, 2, 1)))

"""The rollups, kept up to date by signed changes, equal the facts at every grain."""

from __future__ import annotations

from datetime import date

import pyarrow as pa
import sqlalchemy as sa

from flows.warehouse.customers import load_customers
from flows.warehouse.rollups import rebuild_rollups
from tests.warehouse.conftest import Txn, at, file_day, load, warehouse_state

D1, D2, D3 = date(2024, 5, 1), date(2024, 5, 2), date(2024, 5, 3)

FROM_FACTS = """
SELECT f.date_key, ch.channel_name, ci.city_name, cu.segment, f.status, count(*), sum(f.amount), sum(f.revenue),
       sum(f.processing_time_s)
FROM fact_transactions f
JOIN dim_customer cu USING (customer_key) JOIN dim_channel ch USING (channel_key) JOIN dim_city ci USING (city_key)
GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5
"""


def test_rollups_after_corrections_late_records_and_a_feed_change_equal_the_facts(engine: sa.Engine) -> None:
    feed = pa.table({"customer_id": ["C1"], "customer_name": ["A"], "segment": ["SME"], "signup_date": [""]})
    load(engine, file_day(D1, [Txn(f"A{i}", at(D1, i), customer_id=f"C{i % 2}") for i in range(6)]))
    load(engine, file_day(D2, [Txn("B1", at(D2)), Txn("A1", at(D2, 3), status="FAILED"), Txn("L", at(D1, 23))]))
    load_customers(engine, feed, D2)
    load(engine, file_day(D3, [Txn("A2", at(D1, 5), amount="7.50", customer_id="C1")]))
    with engine.connect() as conn:
        facts = [tuple(r) for r in conn.exec_driver_sql(FROM_FACTS).all()]
    incremental = warehouse_state(engine)
    assert incremental["city"] == facts
    raw = engine.raw_connection()
    try:
        rebuild_rollups(raw.cursor(), [20240501, 20240502, 20240503])
        raw.commit()
    finally:
        raw.close()
    rebuilt = warehouse_state(engine)
    assert (rebuilt["city"], rebuilt["region"]) == (incremental["city"], incremental["region"])
    assert {r[3] for r in facts} == {"Unknown", "SME"}

"""A small hand-built warehouse whose every figure is worked out by hand in the tests.

Cities (region / state / city): West / Maharashtra / Pune, Mumbai; West / Gujarat / Ahmedabad;
South / Karnataka / Bengaluru; South / Tamil Nadu / Chennai. Customers: c1 Retail, c2 SME,
c3 Corporate. Days 2024-01-01 .. 2024-01-10; on day d:

    T1  UPI          Pune       Retail     SUCCESS  amount 100*d  revenue 0.50*d  1.0 s   (every day)
    T2  Credit Card  Bengaluru  SME        SUCCESS  amount 200    revenue 4.00    2.0 s   (every day)
    T3  Debit Card   Mumbai     Retail     FAILED   amount 50     revenue 0.50    3.0 s   (every day)
    T4  Net Banking  Chennai    Corporate  SUCCESS  amount 1000   revenue 15.00   4.0 s   (days 6-10)
    T5  UPI          Ahmedabad  SME        FAILED   amount 400    revenue 2.00    6.0 s   (day 10)

The rollups are filled by the load's own definition (flows.warehouse.rollups.rebuild_rollups).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import plotly.graph_objects as go
import pytest
import sqlalchemy as sa

from flows.dates import date_key
from flows.warehouse.connection import make_engine
from flows.warehouse.migrate import apply_migrations
from flows.warehouse.rollups import rebuild_rollups

FIRST_DAY = date(2024, 1, 1)
DAYS = 10
CITIES = [  # city_key, city, state, region
    (1, "Pune", "Maharashtra", "West"),
    (2, "Mumbai", "Maharashtra", "West"),
    (3, "Ahmedabad", "Gujarat", "West"),
    (4, "Bengaluru", "Karnataka", "South"),
    (5, "Chennai", "Tamil Nadu", "South"),
]
CUSTOMERS = [(1, "c1", "Retail"), (2, "c2", "SME"), (3, "c3", "Corporate")]
CHANNEL = {"Credit Card": 1, "Debit Card": 2, "UPI": 3, "Net Banking": 4}


@dataclass(frozen=True)
class Fact:
    tid: str
    channel: str
    city_key: int
    customer_key: int
    status: str
    amount: float
    revenue: float
    seconds: float


def facts_of_day(d: int) -> list[Fact]:
    out = [
        Fact("T1", "UPI", 1, 1, "SUCCESS", 100.0 * d, 0.5 * d, 1.0),
        Fact("T2", "Credit Card", 4, 2, "SUCCESS", 200.0, 4.0, 2.0),
        Fact("T3", "Debit Card", 2, 1, "FAILED", 50.0, 0.5, 3.0),
    ]
    if d >= 6:
        out.append(Fact("T4", "Net Banking", 5, 3, "SUCCESS", 1000.0, 15.0, 4.0))
    if d == 10:
        out.append(Fact("T5", "UPI", 3, 2, "FAILED", 400.0, 2.0, 6.0))
    return out


def figure(spec: Any) -> go.Figure:
    """A chart as a validated Plotly Figure: from a figure spec (ui.charts) or from the PlotData
    payload an event returns (ui.app). Raises on any invalid property."""
    if hasattr(spec, "plot"):
        spec = json.loads(spec.plot)
    return go.Figure(spec)


def add_day(conn: sa.Connection, day: date, facts: list[Fact], *, loaded_at: datetime | None = None) -> None:
    """Insert one day's facts into their own partition, build its rollups and audit it."""
    key = date_key(day)
    next_key = date_key(day + timedelta(days=1))
    conn.exec_driver_sql(
        "INSERT INTO dim_date (date_key, full_date, day, month, quarter, year, day_of_week, day_name, weekday_flag) "
        "VALUES (%(k)s, %(d)s, %(day)s, %(m)s, 1, %(y)s, %(dow)s, 'x', 1) ON CONFLICT DO NOTHING",
        {"k": key, "d": day, "day": day.day, "m": day.month, "y": day.year, "dow": day.isoweekday()},
    )
    conn.exec_driver_sql(
        f"CREATE TABLE IF NOT EXISTS fact_transactions_d{key} PARTITION OF fact_transactions "
        f"FOR VALUES FROM ({key}) TO ({next_key})"
    )
    for f in facts:
        conn.exec_driver_sql(
            "INSERT INTO fact_transactions (date_key, transaction_id, customer_key, channel_key, city_key, "
            "transaction_ts, amount, status, processing_time_s, processing_delay_bucket, fee_percent, revenue, file_date) "
            "VALUES (%(k)s, %(tid)s, %(cu)s, %(ch)s, %(ci)s, %(ts)s, %(amount)s, %(status)s, %(s)s, 'fast', 1, %(rev)s,"
            " %(day)s)",
            {
                "k": key,
                "tid": f"{f.tid}-{key}",
                "cu": f.customer_key,
                "ch": CHANNEL[f.channel],
                "ci": f.city_key,
                "ts": datetime(day.year, day.month, day.day, 12, tzinfo=UTC),
                "amount": f.amount,
                "status": f.status,
                "s": f.seconds,
                "rev": f.revenue,
                "day": day,
            },
        )
    rebuild_rollups(conn.connection.dbapi_connection.cursor(), [key])  # the load's own rollup definition
    at = loaded_at or datetime(day.year, day.month, day.day, 23, 30, tzinfo=UTC) + timedelta(hours=3)
    conn.exec_driver_sql(
        "INSERT INTO load_audit (run_date, status, source, rows_loaded, started_at, finished_at, loaded_at) "
        "VALUES (%(d)s, 'loaded', 'test', %(n)s, %(at)s, %(at)s, %(at)s) "
        "ON CONFLICT (run_date) DO UPDATE SET loaded_at = EXCLUDED.loaded_at, finished_at = EXCLUDED.finished_at",
        {"d": day, "n": len(facts), "at": at},
    )


def build_small_warehouse(url: str) -> None:
    engine = make_engine(url)
    apply_migrations(engine)
    with engine.begin() as conn:
        for key, city, state, region in CITIES:
            conn.exec_driver_sql(
                "INSERT INTO dim_city (city_key, city_name, state, region) VALUES (%(k)s, %(c)s, %(s)s, %(r)s)",
                {"k": key, "c": city, "s": state, "r": region},
            )
        for key, cid, segment in CUSTOMERS:
            conn.exec_driver_sql(
                "INSERT INTO dim_customer (customer_key, customer_id, segment) VALUES (%(k)s, %(c)s, %(s)s)",
                {"k": key, "c": cid, "s": segment},
            )
        for d in range(1, DAYS + 1):
            add_day(conn, FIRST_DAY + timedelta(days=d - 1), facts_of_day(d))
    engine.dispose()


@pytest.fixture(scope="module")
def small_warehouse(module_warehouse_url: str) -> Iterator[str]:
    """URL of the hand-built warehouse (shared by a module's tests: they only read it)."""
    build_small_warehouse(module_warehouse_url)
    yield module_warehouse_url

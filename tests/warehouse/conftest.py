"""Hand-made file days for the load tests: small CleanResults built directly, and warehouse fingerprints."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pyarrow as pa
import sqlalchemy as sa

from flows.dates import date_key
from flows.transform import PROCESSED_SCHEMA, QUARANTINE_SCHEMA, CleanResult
from flows.warehouse.load import LoadResult, load_day


@dataclass(frozen=True)
class Txn:
    """One accepted record: id, event time, status, amount (rupees), customer."""

    transaction_id: str
    ts: datetime
    status: str = "SUCCESS"
    amount: str = "100.00"
    customer_id: str = "CUST-000001"


def at(day: date, hour: int = 12) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def file_day(day: date, txns: list[Txn], *, quarantined: int = 0, duplicates: int = 0) -> CleanResult:
    """A file of `day` whose accepted records are `txns` (Credit Card, Mumbai), as the transform gives it."""
    n = len(txns)
    amounts = [Decimal(t.amount) for t in txns]
    revenue = [
        (a * Decimal("0.02")).quantize(Decimal("0.01")) if t.status == "SUCCESS" else Decimal("0.00")
        for a, t in zip(amounts, txns, strict=True)
    ]
    columns = {
        "transaction_id": [t.transaction_id for t in txns],
        "transaction_ts": [t.ts for t in txns],
        "date_key": [date_key(t.ts.date()) for t in txns],
        "customer_id": [t.customer_id for t in txns],
        "city": ["Mumbai"] * n,
        "state": ["Maharashtra"] * n,
        "region": ["West"] * n,
        "channel": ["Credit Card"] * n,
        "channel_key": [1] * n,
        "amount": amounts,
        "status": [t.status for t in txns],
        "processing_time_s": [1.5] * n,
        "processing_delay_bucket": ["fast"] * n,
        "fee_percent": [Decimal("2.00")] * n,
        "revenue": revenue,
        "source_row": list(range(1, n + 1)),
    }
    rejected = QUARANTINE_SCHEMA.empty_table()
    if quarantined:
        row = {f.name: ["x"] * quarantined for f in QUARANTINE_SCHEMA}
        row["source_row"] = list(range(n + 1, n + 1 + quarantined))
        row["reject_reason"] = ["too_late"] * quarantined
        rejected = pa.table(row, schema=QUARANTINE_SCHEMA)
    processed = pa.table(columns, schema=PROCESSED_SCHEMA)
    return CleanResult(day, processed, rejected, duplicates, n + quarantined + duplicates)


def load(engine: sa.Engine, clean: CleanResult, sha: str = "0") -> LoadResult:
    return load_day(engine, clean, source="test", sha256=sha * 64, flow_run_id="t", started_at=datetime.now(UTC))


def days(start: date, count: int) -> list[date]:
    return [start + timedelta(days=i) for i in range(count)]


FINGERPRINT_QUERIES = {
    "facts": "SELECT f.transaction_id, f.file_date, f.date_key, f.status, f.amount, f.revenue, f.transaction_ts,"
    " c.customer_id, c.valid_from FROM fact_transactions f JOIN dim_customer c USING (customer_key) ORDER BY 1",
    "superseded": "SELECT s.transaction_id, s.file_date, s.date_key, s.status, c.customer_id, c.valid_from"
    " FROM fact_superseded s JOIN dim_customer c USING (customer_key) ORDER BY 1, 2",
    "city": "SELECT a.date_key, ch.channel_name, ci.city_name, a.segment, a.status, a.txn_count, a.amount_sum,"
    " a.revenue_sum, a.processing_time_sum FROM agg_daily_city a JOIN dim_channel ch USING (channel_key)"
    " JOIN dim_city ci USING (city_key) ORDER BY 1, 2, 3, 4, 5",
    "region": "SELECT date_key, channel_key, region, segment, status, txn_count, amount_sum, revenue_sum"
    " FROM agg_daily_region ORDER BY 1, 2, 3, 4, 5",
    "customers": "SELECT customer_id, valid_from, valid_to, is_current, segment, customer_name, is_inferred"
    " FROM dim_customer ORDER BY 1, 2",
    "audit": "SELECT run_date, status, rows_received, rows_loaded, rows_loaded_earlier, rows_corrections,"
    " rows_superseded, rows_quarantined, duplicates_dropped FROM load_audit ORDER BY 1",
}


def warehouse_state(engine: sa.Engine) -> dict[str, list[tuple[object, ...]]]:
    """The whole warehouse in natural keys (no surrogate key, no load time): equal means equal."""
    with engine.connect() as conn:
        return {name: [tuple(r) for r in conn.exec_driver_sql(q).all()] for name, q in FINGERPRINT_QUERIES.items()}


def reset(engine: sa.Engine) -> None:
    """Empty every table the loads write (the schema stays), for property tests on one database."""
    with engine.begin() as conn:
        parts = (
            conn.exec_driver_sql(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                " WHERE i.inhparent = 'fact_transactions'::regclass"
            )
            .scalars()
            .all()
        )
        for part in parts:
            conn.exec_driver_sql(f'DROP TABLE "{part}"')
        conn.exec_driver_sql(
            "TRUNCATE fact_superseded, agg_daily_city, agg_daily_region, dim_customer, dim_city, dim_date,"
            " load_audit, load_runs, quarantine_rows"
        )

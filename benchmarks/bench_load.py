"""The load of one day against its baselines, on the same rows and server, interleaved.

- ours:            flows.warehouse.load.load_day (first load, and a re-load of the same day)
- copy_indexed:    COPY of the same rows (CSV rendered beforehand) into an empty copy of the fact
                   table with its primary key: the physical limit
- copy_unindexed:  the same into a copy without indexes
- to_sql:          pandas.DataFrame.to_sql into a staging table, then INSERT ... ON CONFLICT
                   (the original design's loader, "the tutorial way")
"""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa

from benchmarks.common import median, timed
from flows.generate import GeneratorConfig, generate_customers, generate_transactions, to_csv_bytes
from flows.ingest import parse_raw_csv
from flows.transform import CleanResult, clean_transactions
from flows.warehouse.load import FACT_COLUMNS, date_key, load_customers, load_day

DAY = date(2024, 6, 3)


def prepare_day(rows: int, seed: int = 42) -> CleanResult:
    raw = to_csv_bytes(generate_transactions(DAY, GeneratorConfig(transactions=rows, seed=seed)))
    records, malformed, _ = parse_raw_csv(raw, source_file="transactions.csv")
    return clean_transactions(records, malformed, DAY)


def _keyed_facts_csv(engine: sa.Engine) -> bytes:
    """The fact rows exactly as loaded (with surrogate keys) as CSV, read back for the baselines."""
    raw = engine.raw_connection()
    try:
        buffer = io.BytesIO()
        raw.cursor().copy_expert(
            f"COPY (SELECT {', '.join(FACT_COLUMNS)} FROM fact_transactions WHERE date_key = {date_key(DAY)}) "
            "TO STDOUT WITH (FORMAT csv)",
            buffer,
        )
        return buffer.getvalue()
    finally:
        raw.close()


def _drop_day(engine: sa.Engine) -> None:
    part = f"fact_transactions_d{date_key(DAY)}"
    with engine.begin() as conn:
        if conn.exec_driver_sql("SELECT to_regclass(%(n)s)", {"n": part}).scalar():
            conn.exec_driver_sql(f"ALTER TABLE fact_transactions DETACH PARTITION {part}")
            conn.exec_driver_sql(f"DROP TABLE {part}")


def _copy_into(engine: sa.Engine, table: str, csv_bytes: bytes) -> None:
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.copy_expert(f"COPY {table} ({', '.join(FACT_COLUMNS)}) FROM STDIN WITH (FORMAT csv)", io.BytesIO(csv_bytes))
        raw.commit()
    finally:
        raw.close()


def _to_sql_upsert(engine: sa.Engine, frame: pd.DataFrame) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS bench_stage")
        frame.to_sql("bench_stage", conn, index=False, chunksize=10_000)
        conn.exec_driver_sql(
            f"INSERT INTO bench_upsert ({', '.join(FACT_COLUMNS)}) SELECT {', '.join(FACT_COLUMNS)} FROM bench_stage "
            "ON CONFLICT (date_key, transaction_id) DO UPDATE SET amount = EXCLUDED.amount, status = EXCLUDED.status, "
            "revenue = EXCLUDED.revenue"
        )


def run(
    engine: sa.Engine,
    rows: int,
    repeats: int = 3,
    tick: Callable[[str], None] = lambda _: None,
    to_sql_rows: int | None = None,
) -> dict[str, Any]:
    """Median seconds and rows/s of each way to load the same day; to_sql on `to_sql_rows` rows."""
    clean = prepare_day(rows)
    load_customers(engine, generate_customers(2000, 42))

    def ours() -> None:
        load_day(engine, clean, source="bench", sha256="0" * 64, flow_run_id=None, started_at=datetime.now(UTC))

    ours()  # warm-up; also gives the keyed rows the baselines load
    csv_bytes = _keyed_facts_csv(engine)
    frame = pd.read_csv(io.BytesIO(csv_bytes), names=list(FACT_COLUMNS), nrows=to_sql_rows or rows)
    frame["transaction_ts"] = pd.to_datetime(frame["transaction_ts"], utc=True, format="ISO8601")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE bench_indexed (LIKE fact_transactions INCLUDING ALL)")
        conn.exec_driver_sql("CREATE TABLE bench_unindexed (LIKE fact_transactions)")
        conn.exec_driver_sql("CREATE TABLE bench_upsert (LIKE fact_transactions INCLUDING ALL)")

    def truncate(table: str) -> None:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"TRUNCATE {table}")

    times: dict[str, list[float]] = {"load": [], "reload": [], "copy_indexed": [], "copy_unindexed": [], "to_sql": []}
    for i in range(repeats):
        _drop_day(engine)
        tick(f"load {i + 1}/{repeats}")
        times["load"].append(timed(ours))
        tick(f"reload {i + 1}/{repeats}")
        times["reload"].append(timed(ours))
        truncate("bench_indexed")
        tick(f"COPY indexed {i + 1}/{repeats}")
        times["copy_indexed"].append(timed(lambda: _copy_into(engine, "bench_indexed", csv_bytes)))
        truncate("bench_unindexed")
        tick(f"COPY unindexed {i + 1}/{repeats}")
        times["copy_unindexed"].append(timed(lambda: _copy_into(engine, "bench_unindexed", csv_bytes)))
        truncate("bench_upsert")
        tick(f"to_sql {i + 1}/{repeats}")
        times["to_sql"].append(timed(lambda: _to_sql_upsert(engine, frame)))

    n = clean.processed.num_rows
    med = {k: median(v) for k, v in times.items()}
    result = {
        "rows": n,
        "load_seconds": med["load"],
        "reload_seconds": med["reload"],
        "copy_seconds": med["copy_indexed"],
        "copy_unindexed_seconds": med["copy_unindexed"],
        "to_sql_seconds": med["to_sql"],
        "to_sql_sample_rows": len(frame),
        "load_rows_per_s": n / med["load"],
        "reload_rows_per_s": n / med["reload"],
        "copy_indexed_rows_per_s": n / med["copy_indexed"],
        "copy_unindexed_rows_per_s": n / med["copy_unindexed"],
        "to_sql_rows_per_s": len(frame) / med["to_sql"],
        "raw_seconds": times,
    }
    result["load_vs_copy_indexed"] = result["load_rows_per_s"] / result["copy_indexed_rows_per_s"]
    result["load_vs_to_sql"] = result["load_rows_per_s"] / result["to_sql_rows_per_s"]
    result["reload_vs_load"] = result["reload_rows_per_s"] / result["load_rows_per_s"]
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE bench_indexed, bench_unindexed, bench_upsert, bench_stage")
    _drop_day(engine)
    return result

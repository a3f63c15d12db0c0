"""The load of one day against its baselines, on the same rows and server, interleaved.

- ours:            flows.warehouse.load.load_day (first load, and a re-load of the same day)
- copy_indexed:    COPY of the same rows (CSV rendered beforehand) into an empty copy of the fact
                   table with its primary key: the physical limit
- copy_unindexed:  the same into a copy without indexes
- to_sql:          pandas.DataFrame.to_sql into a staging table, then INSERT ... ON CONFLICT
                   (the original design's loader, "the tutorial way")

The day loads on top of the lateness window's 7 previous days (loaded first, same size), so the
identity check sees a real window:
- load_new_ids_vs_copy:          a new day, ids all new: its first load (goal >= 0.8x copy_indexed).
                                 Each repeat loads the next new day (DAY + 1, + 2, ...), each on a
                                 full window of 7 loaded days, as a daily run meets it.
- load_renewed_vs_copy:          the day's ids all new again after the day was taken out by an empty
                                 file (untimed): its emptied partition is renewed, not created
- load_late_corrections_vs_copy: 5% of its records are late (new ids of the 7 previous days) and
                                 1% correct transactions of those days (goal >= 0.5x copy_indexed)
Between the repeats of the last two the day is taken out again by loading an empty file of the day
(untimed), which also brings the corrected versions back.

The ids are the generator's (TXN-YYYYMMDD-NNNNNNN: a day's ids sort after the previous day's, as
time-ordered ids do). `ids="random"` replaces each by a digest of it (32 hex digits, in no order):
the load's identity check must then not rely on the ids' order.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

from benchmarks.common import median, timed
from flows.generate import GeneratorConfig, generate_customers, generate_transactions, to_csv_bytes
from flows.ingest import parse_raw_csv
from flows.transform import CleanResult, clean_transactions
from flows.warehouse.customers import load_customers
from flows.warehouse.load import FACT_COLUMNS, date_key, load_day

DAY = date(2024, 6, 3)
WINDOW_DAYS = 7


def prepare_day(rows: int, seed: int = 42, day: date = DAY, ids: str = "generator") -> CleanResult:
    raw = to_csv_bytes(generate_transactions(day, GeneratorConfig(transactions=rows, seed=seed)))
    records, malformed, _ = parse_raw_csv(raw, source_file="transactions.csv")
    clean = clean_transactions(records, malformed, day)
    return clean if ids == "generator" else with_random_ids(clean)


def with_random_ids(clean: CleanResult) -> CleanResult:
    """The day with each id replaced by a digest of it: the same transactions, ids in no order."""
    ids = clean.processed.column("transaction_id").to_pylist()
    digests = pa.array([hashlib.blake2b(i.encode(), digest_size=16).hexdigest() for i in ids], pa.string())
    position = clean.processed.schema.get_field_index("transaction_id")
    processed = clean.processed.set_column(position, "transaction_id", digests)
    return CleanResult(clean.run_date, processed, clean.rejected, clean.duplicates_dropped, clean.rows_received)


def late_and_corrections(clean: CleanResult, window: list[CleanResult], late: float, corrected: float) -> CleanResult:
    """The day with a share of its records moved 1..7 days back (late) and a share replaced by
    transactions of the window's days with their status flipped (corrections), spread evenly."""
    facts = clean.processed
    n = facts.num_rows
    rng = np.random.default_rng(7)
    order = rng.permutation(n)
    n_late, n_corr = int(n * late), int(n * corrected)
    back = np.zeros(n, dtype=np.int64)
    back[order[:n_late]] = rng.integers(1, WINDOW_DAYS + 1, size=n_late)
    ids = facts.column("transaction_id").to_numpy(zero_copy_only=False).astype(object)
    status = facts.column("status").to_numpy(zero_copy_only=False).astype(object)
    targets = np.array_split(order[n_late : n_late + n_corr], len(window))
    for source, positions in zip(window, targets, strict=True):
        rows = rng.choice(source.processed.num_rows, size=len(positions), replace=False)
        old_ids = source.processed.column("transaction_id").take(pa.array(rows)).to_pylist()
        old_status = source.processed.column("status").take(pa.array(rows)).to_pylist()
        ids[positions] = old_ids
        status[positions] = ["FAILED" if s == "SUCCESS" else "SUCCESS" for s in old_status]
        back[positions] = (DAY - source.run_date).days  # the correction stays in its transaction's day
    ts = pc.subtract(facts.column("transaction_ts"), pa.array(back * 86_400_000_000, pa.duration("us")))
    keys = pc.cast(pc.strftime(ts, format="%Y%m%d"), pa.int32())
    revenue = pc.if_else(pc.equal(pa.array(status, pa.string()), "SUCCESS"), facts.column("revenue"), 0)
    for name, values in (
        ("transaction_ts", ts),
        ("date_key", keys),
        ("transaction_id", pa.array(ids, pa.string())),
        ("status", pa.array(status, pa.string())),
        ("revenue", revenue),
    ):
        facts = facts.set_column(facts.schema.get_field_index(name), name, values.cast(facts.schema.field(name).type))
    return CleanResult(DAY, facts, clean.rejected, clean.duplicates_dropped, clean.rows_received)


def _load(engine: sa.Engine, clean: CleanResult, tag: str) -> None:
    load_day(engine, clean, source="bench", sha256=tag.ljust(64, "0"), flow_run_id=None, started_at=datetime.now(UTC))


def _empty_day() -> CleanResult:
    empty = prepare_day(1)
    return CleanResult(DAY, empty.processed.slice(0, 0), empty.rejected.slice(0, 0), 0, 0)


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
    ids: str = "generator",
) -> dict[str, Any]:
    """Median seconds and rows/s of each way to load the same day; to_sql on `to_sql_rows` rows."""
    clean = prepare_day(rows, ids=ids)
    load_customers(engine, generate_customers(2000, 42), DAY)
    window = [prepare_day(rows, seed=42, day=DAY - timedelta(days=d), ids=ids) for d in range(WINDOW_DAYS, 0, -1)]
    for i, previous in enumerate(window):
        tick(f"window day {i + 1}/{WINDOW_DAYS}")
        _load(engine, previous, f"w{i}")
    mixed = late_and_corrections(clean, window, late=0.05, corrected=0.01)
    new_days = [prepare_day(rows, seed=42, day=DAY + timedelta(days=i + 1), ids=ids) for i in range(repeats)]
    _load(engine, clean, "warm")  # warm-up; also gives the keyed rows the baselines load
    csv_bytes = _keyed_facts_csv(engine)
    frame = pd.read_csv(io.BytesIO(csv_bytes), names=list(FACT_COLUMNS), nrows=to_sql_rows or rows)
    frame["transaction_ts"] = pd.to_datetime(frame["transaction_ts"], utc=True, format="ISO8601")
    frame["file_date"] = pd.to_datetime(frame["file_date"]).dt.date
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE bench_indexed (LIKE fact_transactions INCLUDING ALL)")
        conn.exec_driver_sql("CREATE TABLE bench_unindexed (LIKE fact_transactions)")
        conn.exec_driver_sql("CREATE TABLE bench_upsert (LIKE fact_transactions INCLUDING ALL)")
    times = _measure(engine, clean, new_days, mixed, csv_bytes, frame, tick)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE bench_indexed, bench_unindexed, bench_upsert, bench_stage")
    return _figures(times, clean.processed.num_rows, len(frame))


def _measure(
    engine: sa.Engine,
    clean: CleanResult,
    new_days: list[CleanResult],
    mixed: CleanResult,
    csv_bytes: bytes,
    frame: pd.DataFrame,
    tick: Callable[[str], None],
) -> dict[str, list[float]]:
    names = ("load", "reload", "renewed", "late_corrections", "copy_indexed", "copy_unindexed", "to_sql")
    times: dict[str, list[float]] = {k: [] for k in names}
    repeats = len(new_days)

    def truncate(table: str) -> None:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"TRUNCATE {table}")

    for i, new_day in enumerate(new_days):
        tick(f"load of a new day {i + 1}/{repeats}")
        times["load"].append(timed(lambda day=new_day: _load(engine, day, "new")))
        tick(f"reload {i + 1}/{repeats}")
        times["reload"].append(timed(lambda day=new_day: _load(engine, day, "new")))
        _load(engine, _empty_day(), f"e{i}")  # the day out of the warehouse again (untimed)
        tick(f"load of the day taken out {i + 1}/{repeats}")
        times["renewed"].append(timed(lambda: _load(engine, clean, "renewed")))
        _load(engine, _empty_day(), f"f{i}")
        tick(f"load with late records and corrections {i + 1}/{repeats}")
        times["late_corrections"].append(timed(lambda: _load(engine, mixed, "mixed")))
        truncate("bench_indexed")
        tick(f"COPY indexed {i + 1}/{repeats}")
        times["copy_indexed"].append(timed(lambda: _copy_into(engine, "bench_indexed", csv_bytes)))
        truncate("bench_unindexed")
        tick(f"COPY unindexed {i + 1}/{repeats}")
        times["copy_unindexed"].append(timed(lambda: _copy_into(engine, "bench_unindexed", csv_bytes)))
        truncate("bench_upsert")
        tick(f"to_sql {i + 1}/{repeats}")
        times["to_sql"].append(timed(lambda: _to_sql_upsert(engine, frame)))
    return times


def _figures(times: dict[str, list[float]], n: int, to_sql_rows: int) -> dict[str, Any]:
    med = {k: median(v) for k, v in times.items()}
    result: dict[str, Any] = {
        "rows": n,
        "load_seconds": med["load"],
        "reload_seconds": med["reload"],
        "late_corrections_seconds": med["late_corrections"],
        "renewed_seconds": med["renewed"],
        "copy_seconds": med["copy_indexed"],
        "copy_unindexed_seconds": med["copy_unindexed"],
        "to_sql_seconds": med["to_sql"],
        "to_sql_sample_rows": to_sql_rows,
        "load_rows_per_s": n / med["load"],
        "reload_rows_per_s": n / med["reload"],
        "copy_indexed_rows_per_s": n / med["copy_indexed"],
        "copy_unindexed_rows_per_s": n / med["copy_unindexed"],
        "to_sql_rows_per_s": to_sql_rows / med["to_sql"],
        "raw_seconds": times,
    }
    result["load_vs_copy_indexed"] = med["copy_indexed"] / med["load"]
    result["load_new_ids_vs_copy"] = med["copy_indexed"] / med["load"]
    result["load_renewed_vs_copy"] = med["copy_indexed"] / med["renewed"]
    result["load_late_corrections_vs_copy"] = med["copy_indexed"] / med["late_corrections"]
    result["load_vs_to_sql"] = result["load_rows_per_s"] / result["to_sql_rows_per_s"]
    result["reload_vs_load"] = result["reload_rows_per_s"] / result["load_rows_per_s"]
    return result

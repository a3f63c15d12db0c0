"""Loading a day into the warehouse: one transaction, COPY, partition swap.

The whole day - dimensions, the day's fact partition, rollups, quarantine rows and the load
audit - commits together or not at all, so the warehouse always holds either the last good
state of the day or the new one. Loads are serialised by a transaction-level advisory lock:
two runs of the same day (or a backfill overlapping a daily run) queue instead of racing,
and the second simply replaces the first with identical rows.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path

import psycopg2
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import sqlalchemy as sa
from psycopg2 import sql as pgsql

from flows.contract import CUSTOMER_COLUMNS, RAW_COLUMNS
from flows.transform import CleanResult, decimal_from_units
from flows.warehouse.sql import sql

log = logging.getLogger("bap.load")

_COPY_SLICE_ROWS = 100_000
LOAD_LOCK = 0x62617002  # advisory lock id held by every day load

FACT_COLUMNS = (
    "date_key",
    "transaction_id",
    "customer_key",
    "channel_key",
    "city_key",
    "transaction_ts",
    "amount",
    "status",
    "processing_time_s",
    "processing_delay_bucket",
    "fee_percent",
    "revenue",
)


ROLLUP_MEASURES = ("txn_count", "amount_sum", "revenue_sum", "processing_time_sum")
ROLLUP_CITY_COLUMNS = ("date_key", "channel_key", "city_key", "segment", "status", *ROLLUP_MEASURES)
ROLLUP_REGION_COLUMNS = ("date_key", "channel_key", "region", "segment", "status", *ROLLUP_MEASURES)


def day_rollups(keyed: pa.Table, segments: pa.Array, region_of_city: dict[int, str]) -> tuple[pa.Table, pa.Table]:
    """The day's two rollups: one row per day x channel x city (or region) x segment x status."""
    millis = pc.cast(pc.round(pc.multiply(keyed.column("processing_time_s"), 1000)), pa.int64())
    cells = pa.table(
        {
            "date_key": keyed.column("date_key"),
            "channel_key": keyed.column("channel_key"),
            "city_key": keyed.column("city_key"),
            "segment": segments,
            "status": keyed.column("status"),
            "amount": keyed.column("amount"),
            "revenue": keyed.column("revenue"),
            "millis": millis,
        }
    )
    measures = [("status", "count"), ("amount", "sum"), ("revenue", "sum"), ("millis", "sum")]
    city = cells.group_by(["date_key", "channel_key", "city_key", "segment", "status"], use_threads=False).aggregate(
        measures
    )
    city_keys = city.column("city_key").to_pylist()
    regions = pa.array([region_of_city[k] for k in city_keys], pa.string())
    city = city.append_column("region", regions)
    region = city.group_by(["date_key", "channel_key", "region", "segment", "status"], use_threads=False).aggregate(
        [("status_count", "sum"), ("amount_sum", "sum"), ("revenue_sum", "sum"), ("millis_sum", "sum")]
    )

    def finish(
        table: pa.Table, dims: tuple[str, ...], count: str, amount: str, revenue: str, millis_col: str
    ) -> pa.Table:
        millis_total = table.column(millis_col).to_numpy()
        return pa.table(
            {
                **{d: table.column(d) for d in dims},
                "txn_count": table.column(count),
                "amount_sum": table.column(amount),
                "revenue_sum": table.column(revenue),
                "processing_time_sum": decimal_from_units(millis_total, pa.decimal128(18, 3)),
            }
        )

    return (
        finish(city, ROLLUP_CITY_COLUMNS[:5], "status_count", "amount_sum", "revenue_sum", "millis_sum"),
        finish(
            region, ROLLUP_REGION_COLUMNS[:5], "status_count_sum", "amount_sum_sum", "revenue_sum_sum", "millis_sum_sum"
        ),
    )


def rebuild_rollups(engine: sa.Engine, day: date) -> None:
    """Recompute the day's rollups from the fact table in SQL (the reference definition)."""
    params = {"date_key": date_key(day)}
    with engine.begin() as conn:
        for path in ("load/clear_day_rollups.sql", "load/rollup_city.sql", "load/rollup_region.sql"):
            conn.exec_driver_sql(sql(path), params)


@dataclass(frozen=True)
class LoadResult:
    run_date: date
    rows_loaded: int
    seconds: float
    unchanged: bool = False


LOADER_VERSION = "2"  # bump when the load's output for the same input changes


@lru_cache(maxsize=1)
def _code_digest() -> str:
    """Digest of the code that turns a raw source into warehouse rows: a change reloads every day."""
    import flows.contract
    import flows.ingest
    import flows.reference
    import flows.rules
    import flows.transform

    digest = hashlib.blake2b(LOADER_VERSION.encode(), digest_size=20)
    for module in (flows.contract, flows.ingest, flows.reference, flows.rules, flows.transform, sys.modules[__name__]):
        digest.update(Path(module.__file__).read_bytes())
    return digest.hexdigest()


def load_fingerprint(clean: CleanResult, sha256: str, customer_rows: list[tuple], city_rows: list[tuple]) -> str:
    """What a day load writes, named by what determines it: the raw source's digest (the transform is
    a pure function of it and the code), the code, the day's accounting, and the dimension keys and
    segments its rows resolve to. Computing it costs microseconds, not a pass over the rows."""
    digest = hashlib.blake2b(digest_size=20)
    digest.update(_code_digest().encode())
    digest.update(
        repr(
            (
                clean.run_date,
                sha256,
                clean.rows_received,
                clean.processed.num_rows,
                clean.rejected.num_rows,
                clean.duplicates_dropped,
            )
        ).encode()
    )
    digest.update(repr(sorted(customer_rows)).encode())
    digest.update(repr(sorted(city_rows)).encode())
    return digest.hexdigest()


def date_key(day: date) -> int:
    return int(day.strftime("%Y%m%d"))


def _copy(cursor, table: pa.Table, target: pgsql.Composable, columns: tuple[str, ...], *, freeze: bool = False) -> None:
    """COPY an Arrow table into `target`.

    Arrow writes the CSV (no pandas round trip) in a second thread while PostgreSQL parses it,
    streamed through a pipe, so the two cores work at once and the CSV is never held whole.
    FREEZE (for a table created in this transaction) writes the rows already frozen.
    """
    statement = pgsql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT csv{})").format(
        target, pgsql.SQL(", ").join(pgsql.Identifier(c) for c in columns), pgsql.SQL(", FREEZE" if freeze else "")
    )
    # One chunk: Arrow's CSV writer emits stray NUL bytes when a first chunk is empty (apache/arrow#36889).
    selected = table.select(list(columns)).combine_chunks()
    if selected.num_rows < 50_000:
        buffer = io.BytesIO()
        pacsv.write_csv(selected, buffer, write_options=pacsv.WriteOptions(include_header=False))
        buffer.seek(0)
        cursor.copy_expert(statement, buffer)
        return
    # Arrow renders slices of the table in parallel threads (it releases the GIL) while
    # PostgreSQL parses the slices already rendered, streamed through a pipe in order.
    slices = [selected.slice(start, _COPY_SLICE_ROWS) for start in range(0, selected.num_rows, _COPY_SLICE_ROWS)]

    def render(part: pa.Table) -> bytes:
        sink = io.BytesIO()
        pacsv.write_csv(part, sink, write_options=pacsv.WriteOptions(include_header=False, batch_size=65_536))
        return sink.getvalue()

    read_fd, write_fd = os.pipe()
    failure: list[BaseException] = []

    def produce() -> None:
        try:
            with ThreadPoolExecutor(max_workers=2) as pool, os.fdopen(write_fd, "wb", buffering=0) as sink:
                for chunk in pool.map(render, slices):
                    sink.write(chunk)
        except BrokenPipeError:
            pass  # the COPY failed and closed its end; its error is the one that matters
        except BaseException as exc:
            failure.append(exc)

    producer = threading.Thread(target=produce, name="copy-producer", daemon=True)
    producer.start()
    try:
        with os.fdopen(read_fd, "rb", buffering=1 << 20) as source:
            cursor.copy_expert(statement, source, size=1 << 20)
    finally:
        producer.join()
    if failure:
        raise failure[0]


def _run(cursor, relative_path: str, params: dict | None = None, **identifiers: str) -> None:
    text = sql(relative_path)
    if identifiers:
        composed = pgsql.SQL(text).format(**{k: pgsql.Identifier(v) for k, v in identifiers.items()})
        cursor.execute(composed, params)
    else:
        cursor.execute(text, params)


def _dim_date_params(day: date) -> dict:
    return {
        "date_key": date_key(day),
        "full_date": day,
        "day": day.day,
        "month": day.month,
        "quarter": (day.month - 1) // 3 + 1,
        "year": day.year,
        "day_of_week": day.isoweekday(),
        "day_name": day.strftime("%A"),
        "weekday_flag": 1 if day.weekday() < 5 else 0,
    }


def _lookup(keys: pa.ChunkedArray | pa.Array, names: list, values: list) -> pa.Array:
    """Map each key to its value via a hash lookup (vectorised)."""
    positions = pc.index_in(keys, value_set=pa.array(names, pa.string()))
    if positions.null_count:
        raise RuntimeError("a dimension key could not be resolved")  # programming error: upserted above
    return pc.take(pa.array(values), positions)


def _rollback(raw) -> None:
    """Roll back after a failure; when the connection itself is gone (server down, backend
    terminated) the server has already discarded the transaction, and the original error is
    the one to report, not the "connection already closed" of the rollback."""
    try:
        raw.rollback()
    except (psycopg2.OperationalError, psycopg2.InterfaceError):
        pass


def load_day(
    engine: sa.Engine,
    clean: CleanResult,
    *,
    source: str,
    sha256: str,
    flow_run_id: str | None,
    started_at: datetime,
    verify: Callable[[sa.Connection], None] | None = None,
) -> LoadResult:
    """Replace the day in the warehouse with `clean`, in one transaction.

    `sha256` is the digest of the raw source `clean` was made from: a re-run with the same source,
    code and dimension keys replaces nothing (see `load_fingerprint`).
    `verify` runs on the load's own connection just before the commit, seeing the new day: it
    may record results there, and raising rolls the whole day back (the warehouse suite's gate).
    """
    t0 = time.perf_counter()
    day = clean.run_date
    key = date_key(day)
    facts = clean.processed
    part = f"fact_transactions_d{key}"
    fresh = f"{part}_load"
    params = {"date_key": key, "next_key": date_key(day + timedelta(days=1)), "run_date": day}

    conn = engine.connect()
    raw = conn.connection.dbapi_connection  # the same session: COPY via the cursor, checks via `conn`
    try:
        cur = raw.cursor()
        _run(cur, "load/begin_day.sql", {"lock_id": LOAD_LOCK})
        _run(cur, "load/upsert_date.sql", _dim_date_params(day))

        # Dimensions: new cities and inferred customers first, then resolve surrogate keys.
        cities = facts.select(["city", "state", "region"]).group_by(["city", "state", "region"]).aggregate([])
        _run(
            cur,
            "load/upsert_cities.sql",
            {
                "cities": cities.column("city").to_pylist(),
                "states": cities.column("state").to_pylist(),
                "regions": cities.column("region").to_pylist(),
            },
        )
        _run(cur, "load/city_keys.sql")
        city_rows = cur.fetchall()  # city_key, city_name, state, region
        customer_ids = pc.unique(facts.column("customer_id")).to_pylist()
        _run(cur, "load/upsert_inferred_customers.sql", {"customer_ids": customer_ids})
        _run(cur, "load/customer_keys.sql", {"customer_ids": customer_ids})
        customer_rows = cur.fetchall()  # customer_id, customer_key, segment

        # A re-run with exactly what the warehouse holds (same rows, quarantine and dimension
        # keys, same loader) replaces nothing: the attempt is recorded and the load ends here.
        fingerprint = load_fingerprint(clean, sha256, customer_rows, city_rows)
        cur.execute(sql("load/loaded_fingerprint.sql"), {"run_date": day, "part": part})
        held = cur.fetchone()
        if held is not None and held[0] == fingerprint:
            _run(
                cur,
                "load/record_unchanged.sql",
                {
                    "run_date": day,
                    "flow_run_id": flow_run_id,
                    "started_at": started_at,
                    "source": source,
                    "sha256": sha256,
                },
            )
            if verify is not None:
                verify(conn)
            raw.commit()
            seconds = time.perf_counter() - t0
            log.info("day unchanged; nothing replaced", extra={"run_date": str(day), "seconds": round(seconds, 3)})
            return LoadResult(run_date=day, rows_loaded=facts.num_rows, seconds=seconds, unchanged=True)

        city_names = [f"{r[1]}\x1f{r[2]}" for r in city_rows]
        fact_city = pc.binary_join_element_wise(facts.column("city"), facts.column("state"), "\x1f")
        keyed = pa.table(
            {
                "date_key": facts.column("date_key"),
                "transaction_id": facts.column("transaction_id"),
                "customer_key": _lookup(
                    facts.column("customer_id"), [r[0] for r in customer_rows], [r[1] for r in customer_rows]
                ),
                "channel_key": facts.column("channel_key"),
                "city_key": _lookup(fact_city, city_names, [r[0] for r in city_rows]),
                "transaction_ts": facts.column("transaction_ts").cast(pa.timestamp("us")),  # UTC, see begin_day.sql
                "amount": facts.column("amount"),
                "status": facts.column("status"),
                "processing_time_s": facts.column("processing_time_s"),
                "processing_delay_bucket": facts.column("processing_delay_bucket"),
                "fee_percent": facts.column("fee_percent"),
                "revenue": facts.column("revenue"),
            }
        )

        # Facts: COPY into a fresh table, index it, then swap it in as the day's partition.
        _run(cur, "load/create_fresh_partition.sql", fresh=fresh)
        _copy(cur, keyed, pgsql.Identifier(fresh), FACT_COLUMNS, freeze=True)
        _run(cur, "load/index_fresh_partition.sql", params, fresh=fresh, fresh_range=f"{fresh}_range")
        cur.execute(sql("load/partition_exists.sql"), {"name": part})
        if cur.fetchone()[0]:
            _run(cur, "load/retire_partition.sql", part=part)
        _run(cur, "load/attach_partition.sql", params, fresh=fresh, part=part, part_name=part)

        # Rollups for the dashboard: aggregated in Arrow from the rows just loaded (the same
        # result as warehouse_sql/load/rollup_*.sql, which `rebuild_rollups` runs; a test keeps
        # the two equal) and COPYed, a few thousand rows instead of a scan of the day.
        segments = _lookup(facts.column("customer_id"), [r[0] for r in customer_rows], [r[2] for r in customer_rows])
        city_rollup, region_rollup = day_rollups(keyed, segments, {r[0]: r[3] for r in city_rows})
        _run(cur, "load/clear_day_rollups.sql", params)
        _copy(cur, city_rollup, pgsql.Identifier("agg_daily_city"), ROLLUP_CITY_COLUMNS)
        _copy(cur, region_rollup, pgsql.Identifier("agg_daily_region"), ROLLUP_REGION_COLUMNS)

        # Quarantine rows of the day, every original field as text.
        _run(cur, "load/stage_quarantine.sql")
        cur.execute("TRUNCATE _quarantine_stage")
        _copy(
            cur,
            clean.rejected,
            pgsql.Identifier("_quarantine_stage"),
            (*RAW_COLUMNS, "source_file", "source_row", "reject_reason"),
        )
        _run(cur, "load/replace_quarantine.sql", params)

        _run(
            cur,
            "load/record_loaded.sql",
            {
                "run_date": day,
                "source": source,
                "sha256": sha256,
                "received": clean.rows_received,
                "loaded": facts.num_rows,
                "quarantined": clean.rejected.num_rows,
                "reasons": json.dumps(clean.quarantine_reasons),
                "duplicates": clean.duplicates_dropped,
                "flow_run_id": flow_run_id,
                "started_at": started_at,
                "message": None,
                "fingerprint": fingerprint,
            },
        )
        if verify is not None:
            verify(conn)
        raw.commit()
    except BaseException:
        _rollback(raw)
        raise
    finally:
        conn.close()
    seconds = time.perf_counter() - t0
    log.info(
        "day loaded",
        extra={
            "run_date": str(day),
            "rows": facts.num_rows,
            "seconds": round(seconds, 3),
            "rows_per_s": round(facts.num_rows / seconds) if seconds else None,
        },
    )
    return LoadResult(run_date=day, rows_loaded=facts.num_rows, seconds=seconds)


def load_customers(engine: sa.Engine, customers: pa.Table) -> int:
    """Apply the customer feed to dim_customer (insert new, update changed, complete inferred)."""
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute(
            "CREATE TEMP TABLE _customer_stage (customer_id text, customer_name text, segment text, signup_date text)"
            " ON COMMIT DROP"
        )
        _copy(cur, customers, pgsql.Identifier("_customer_stage"), CUSTOMER_COLUMNS)
        _run(cur, "load/merge_customers.sql")
        changed = cur.rowcount
        raw.commit()
    except BaseException:
        _rollback(raw)
        raise
    finally:
        raw.close()
    log.info("customer feed applied", extra={"customers": customers.num_rows, "changed": changed})
    return changed


def record_failure(
    engine: sa.Engine,
    run_date: date,
    *,
    status: str,
    message: str,
    source: str | None = None,
    sha256: str | None = None,
    clean: CleanResult | None = None,
    flow_run_id: str | None = None,
    started_at: datetime | None = None,
) -> None:
    """Record a failed or blocked attempt; the day's loaded rows stay as they were."""
    with engine.begin() as conn:
        conn.exec_driver_sql(
            sql("load/record_failure.sql"),
            {
                "run_date": run_date,
                "status": status,
                "source": source,
                "sha256": sha256,
                "received": clean.rows_received if clean else None,
                "quarantined": clean.rejected.num_rows if clean else None,
                "reasons": json.dumps(clean.quarantine_reasons if clean else {}),
                "duplicates": clean.duplicates_dropped if clean else None,
                "flow_run_id": flow_run_id,
                "started_at": started_at,
                "message": message[:2000],
            },
        )


def fact_checksum(engine: sa.Engine, start: date | None = None, end: date | None = None) -> tuple[int, str]:
    """(row count, md5 over every fact row in key order): equal checksums mean equal warehouses."""
    with engine.connect() as conn:
        row = conn.exec_driver_sql(
            sql("ops/fact_checksum.sql"),
            {"start": date_key(start) if start else 0, "end": date_key(end) if end else 99991231},
        ).one()
    return int(row[0]), row[1] or ""

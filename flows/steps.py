"""The day's pipeline steps as plain functions: ingest -> transform -> load.

Nothing here knows Prefect: the flows in flows/pipeline.py wrap these in tasks with retries,
and tests call them directly. Each step reads what it needs from the settings and the lake,
so a step can run on another machine (a Dask worker) with only the settings in its environment.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache

import pyarrow as pa
import pyarrow.parquet as pq
import sqlalchemy as sa

from flows.errors import BapError
from flows.generate import GeneratorConfig, generate_customers, to_csv_bytes
from flows.ingest import RawBatch, land_files, partition_lock, raw_files, read_raw_partition, write_synthetic_day
from flows.settings import Settings
from flows.storage import DataLake
from flows.transform import CleanResult, clean_transactions
from flows.warehouse.connection import resolve_url, warehouse_engine
from flows.warehouse.load import LoadResult, load_customers, load_day, record_failure

log = logging.getLogger("bap.pipeline")


def yesterday_utc() -> date:
    return datetime.now(timezone.utc).date() - timedelta(days=1)


def lake_of(settings: Settings) -> DataLake:
    return DataLake(settings.data_dir)


@lru_cache(maxsize=4)
def _engine_for(url: str) -> sa.Engine:
    return warehouse_engine(url)


def engine_of(settings: Settings) -> sa.Engine:
    """One engine per process and warehouse (connection-checked and migrated once)."""
    return _engine_for(resolve_url(settings))


def _generator_config(settings: Settings, scenario: str | None) -> GeneratorConfig:
    return GeneratorConfig(
        transactions=settings.transactions_per_day,
        customers=settings.customer_count,
        seed=settings.seed,
        defect_rate=settings.defect_rate,
        scenario=scenario,
    )


def sync_customer_feed(settings: Settings) -> int:
    """Write the deterministic customer feed to the raw zone and apply it to dim_customer."""
    lake = lake_of(settings)
    customers = generate_customers(settings.customer_count, settings.seed)
    data = to_csv_bytes(customers)
    path = lake.customers_path()
    if not lake.exists(path) or lake.read(path) != data:
        lake.write_atomic(path, data)
    return load_customers(engine_of(settings), customers)


def ingest(settings: Settings, day: date, *, input_path: str | None = None, scenario: str | None = None,
           regenerate: bool = False) -> RawBatch:
    """Put the day's source into raw/YYYY/MM/DD and read it back as text held to the contract.

    With `input_path` the landed file(s) become the day's source. Without it, an existing raw
    partition is replayed (a re-run loads what arrived), unless `regenerate` or a `scenario`
    asks for a new synthetic day, or there is none yet.
    """
    lake = lake_of(settings)
    with partition_lock(lake, day):  # a concurrent run of the day lands or reads before or after, never during
        if input_path is not None:
            land_files(lake, day, input_path)
            source = f"landed:{input_path}"
        elif regenerate or scenario is not None or not raw_files(lake, day):
            write_synthetic_day(lake, day, _generator_config(settings, scenario))
            source = "synthetic" if scenario is None else f"synthetic:{scenario}"
        else:
            source = "replay"
        return read_raw_partition(lake, day, source)


def transform(settings: Settings, raw: RawBatch) -> CleanResult:
    """Clean the day and write processed and quarantine Parquet partitions (atomically)."""
    lake = lake_of(settings)
    clean = clean_transactions(raw.records, raw.malformed, raw.run_date)
    lake.write_atomic(lake.processed_path(raw.run_date), _parquet_bytes(clean.processed))
    lake.write_atomic(lake.quarantine_path(raw.run_date), _parquet_bytes(clean.rejected))
    return clean


def _parquet_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue().to_pybytes()


def load(settings: Settings, raw: RawBatch, clean: CleanResult, *, flow_run_id: str | None,
         started_at: datetime) -> LoadResult:
    return load_day(
        engine_of(settings), clean, source=raw.source, sha256=raw.sha256, flow_run_id=flow_run_id,
        started_at=started_at,
    )


def note_failure(settings: Settings, day: date, exc: BaseException, *, status: str = "failed",
                 raw: RawBatch | None = None, clean: CleanResult | None = None,
                 flow_run_id: str | None = None, started_at: datetime | None = None) -> None:
    """Best effort: record the failed attempt in load_audit (skipped if the warehouse is the problem)."""
    try:
        record_failure(
            engine_of(settings), day, status=status, message=f"{type(exc).__name__}: {exc}",
            source=raw.source if raw else None, sha256=raw.sha256 if raw else None, clean=clean,
            flow_run_id=flow_run_id, started_at=started_at,
        )
    except Exception as record_exc:  # the warehouse itself may be what failed
        log.warning("could not record the failure in load_audit", extra={"error": str(record_exc)})


@dataclass(frozen=True)
class DayOutcome:
    run_date: date
    status: str  # loaded | failed | blocked
    rows_received: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    duplicates_dropped: int = 0
    quarantine_reasons: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    message: str = ""


def outcome_of(clean: CleanResult, seconds: float) -> DayOutcome:
    return DayOutcome(
        run_date=clean.run_date, status="loaded", rows_received=clean.rows_received,
        rows_loaded=clean.processed.num_rows, rows_quarantined=clean.rejected.num_rows,
        duplicates_dropped=clean.duplicates_dropped, quarantine_reasons=clean.quarantine_reasons,
        seconds=round(seconds, 3),
    )


def run_day(settings: Settings, day: date, *, input_path: str | None = None, scenario: str | None = None,
            regenerate: bool = False, flow_run_id: str | None = None) -> DayOutcome:
    """The whole day in one call (used by the backfill, where one task per day keeps Prefect's
    overhead small). Raises on failure after recording it."""
    started = datetime.now(timezone.utc)
    t0 = time.perf_counter()
    raw = clean = None
    try:
        raw = ingest(settings, day, input_path=input_path, scenario=scenario, regenerate=regenerate)
        clean = transform(settings, raw)
        load(settings, raw, clean, flow_run_id=flow_run_id, started_at=started)
    except BaseException as exc:
        note_failure(settings, day, exc, raw=raw, clean=clean, flow_run_id=flow_run_id, started_at=started)
        raise
    return outcome_of(clean, time.perf_counter() - t0)


def status_rows(settings: Settings, start: date, end: date) -> list[dict]:
    from flows.warehouse.sql import sql

    with engine_of(settings).connect() as conn:
        result = conn.exec_driver_sql(sql("ops/status.sql"), {"start": start, "end": end})
        return [dict(row._mapping) for row in result]


__all__ = [
    "BapError", "DayOutcome", "engine_of", "ingest", "lake_of", "load", "note_failure", "outcome_of",
    "run_day", "status_rows", "sync_customer_feed", "transform", "yesterday_utc",
]

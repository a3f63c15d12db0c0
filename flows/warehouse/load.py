"""Loading a file day into the warehouse: one transaction, a short sequence of named phases.

The whole file day - dimensions, its versions of transactions (facts of their own days and
superseded versions), the rollups of every touched day, quarantine rows and the load audit of
every file day whose accounting changed - commits together or not at all. Loads are serialised by
a transaction-level advisory lock: two runs of the same day (or a backfill overlapping a daily
run) queue instead of racing, and the result equals loading every file day in day order.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from flows.dates import date_key
from flows.transform import CleanResult
from flows.warehouse import phases
from flows.warehouse.bulk import LOAD_LOCK, Cursor, fetch, rollback_quietly, run
from flows.warehouse.phases import FACT_COLUMNS
from flows.warehouse.sql import sql

log = logging.getLogger("bap.load")

LOADER_VERSION = "3"  # bump when the load's output for the same input changes
DEFAULT_WINDOW_DAYS = 7

__all__ = ["FACT_COLUMNS", "LOAD_LOCK", "LoadResult", "date_key", "fact_checksum", "load_day", "record_failure"]


@dataclass(frozen=True)
class LoadResult:
    """The file day's accounting after its load (its versions in the facts and superseded)."""

    run_date: date
    rows_loaded: int
    seconds: float
    unchanged: bool = False
    rows_loaded_earlier: int = 0
    rows_corrections: int = 0
    rows_superseded: int = 0
    days_changed: tuple[date, ...] = ()  # earlier or later file days whose accounting this load changed


@lru_cache(maxsize=1)
def _code_digest() -> str:
    """Digest of the code that turns a raw source into warehouse rows: a change reloads every day."""
    import flows.contract
    import flows.ingest
    import flows.reference
    import flows.rules
    import flows.transform
    import flows.warehouse.keys

    digest = hashlib.blake2b(LOADER_VERSION.encode(), digest_size=20)
    modules = (
        flows.contract,
        flows.ingest,
        flows.reference,
        flows.rules,
        flows.transform,
        flows.warehouse.keys,
        phases,
    )
    for module in (*modules, sys.modules[__name__]):
        digest.update(Path(str(module.__file__)).read_bytes())
    return digest.hexdigest()


def load_fingerprint(clean: CleanResult, sha256: str, dims: phases.Dimensions, window_days: int) -> str:
    """What a file day load writes, named by what determines it: the raw source's digest (the
    transform is a pure function of it and the code), the code, the accounting, the window and the
    dimension keys and customer versions its rows resolve to. Costs microseconds, not a pass over rows."""
    digest = hashlib.blake2b(digest_size=20)
    digest.update(_code_digest().encode())
    counts = (clean.rows_received, clean.processed.num_rows, clean.rejected.num_rows, clean.duplicates_dropped)
    digest.update(repr((clean.run_date, sha256, counts, window_days)).encode())
    digest.update(repr(sorted(dims.customers)).encode())
    digest.update(repr(sorted(dims.cities)).encode())
    return digest.hexdigest()


def load_day(
    engine: sa.Engine,
    clean: CleanResult,
    *,
    source: str,
    sha256: str,
    flow_run_id: str | None,
    started_at: datetime,
    verify: Callable[[sa.Connection], None] | None = None,
    window_days: int = DEFAULT_WINDOW_DAYS,
) -> LoadResult:
    """Load the file day `clean` in one transaction (its previous load, if any, is replaced).

    `sha256` is the digest of the raw source `clean` was made from: a re-run with the same source,
    code and dimension keys replaces nothing (see `load_fingerprint`). `window_days` is the lateness
    window (settings.late_arrival_days). `verify` runs on the load's own connection just before the
    commit: raising rolls the whole day back (the warehouse suite's gate).
    """
    t0 = time.perf_counter()
    attempt = {"source": source, "sha256": sha256, "flow_run_id": flow_run_id, "started_at": started_at}
    conn = engine.connect()
    raw = conn.connection.dbapi_connection  # the same session: COPY via the cursor, checks via `conn`
    assert raw is not None  # a checked-out connection always has its DB-API connection
    try:
        cur = raw.cursor()
        result = _load_phases(cur, clean, attempt, window_days)
        if verify is not None:
            verify(conn)
        raw.commit()
    except BaseException:
        rollback_quietly(raw)
        raise
    finally:
        conn.close()
    seconds = time.perf_counter() - t0
    rate = round(clean.processed.num_rows / seconds) if seconds else None
    extra = {
        "run_date": str(clean.run_date),
        "rows": result.rows_loaded,
        "seconds": round(seconds, 3),
        "rows_per_s": rate,
    }
    log.info("day unchanged; nothing replaced" if result.unchanged else "day loaded", extra=extra)
    return LoadResult(**{**result.__dict__, "seconds": seconds})


def _load_phases(cur: Cursor, clean: CleanResult, attempt: dict[str, Any], window_days: int) -> LoadResult:
    """The phases in order: lock, dimensions, (unchanged?), stage, reconcile, rollups, quarantine, audit.
    Nothing commits here: several file days can load in one transaction, one after the other."""
    day = clean.run_date
    run(cur, "load/begin_day.sql", {"lock_id": LOAD_LOCK})
    dims = phases.dimensions(cur, clean)
    fingerprint = load_fingerprint(clean, attempt["sha256"], dims, window_days)
    held = fetch(cur, "load/loaded_fingerprint.sql", {"run_date": day})
    if held and held[0][0] == fingerprint:
        phases.record_unchanged(cur, day, attempt)
        return _result(cur, day, unchanged=True)
    staged = phases.stage(cur, clean, dims, window_days)
    touched = phases.reconcile(cur, day, window_days, staged)
    phases.rollups(cur, touched)
    phases.quarantine(cur, clean)
    changes = phases.audit(cur, clean, attempt, fingerprint, staged.clear)
    run(cur, "load/end_day.sql")
    return _result(cur, day, changed=tuple(c.file_date for c in changes if c.file_date != day))


def _result(cur: Cursor, day: date, *, unchanged: bool = False, changed: tuple[date, ...] = ()) -> LoadResult:
    loaded, earlier, corrections, superseded = fetch(cur, "load/file_accounting.sql", {"run_date": day})[0]
    return LoadResult(day, loaded, 0.0, unchanged, earlier, corrections, superseded, changed)


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

"""The gap detector: days of a range the warehouse does not hold as loaded.

A plain function over the load audit (one row per day, its latest attempt); `bap gaps` prints
the report and can backfill exactly those days (`backfill_pipeline(..., days=find_gaps(...))`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa

from flows.errors import BapError
from flows.warehouse.sql import sql


@dataclass(frozen=True)
class Gap:
    """One day that is not loaded: status 'missing' (never attempted), 'failed' or 'blocked'."""

    run_date: date
    status: str
    message: str | None
    last_attempt_at: datetime | None
    has_rows: bool  # an earlier good load of the day is still in the warehouse


def gap_report(engine: sa.Engine, start: date, end: date) -> list[Gap]:
    """Every day in [start, end] whose latest attempt is not 'loaded', oldest first."""
    if start > end:
        raise BapError(f"the range starts after it ends ({start} > {end}); swap --start and --end")
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(sql("ops/gaps.sql"), {"start": start, "end": end}).all()
    return [Gap(*row) for row in rows]


def find_gaps(engine: sa.Engine, start: date, end: date) -> list[date]:
    """The days in [start, end] that are missing or failed in the warehouse, oldest first."""
    return [gap.run_date for gap in gap_report(engine, start, end)]

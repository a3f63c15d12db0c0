"""What GX is handed for a day: the batch as a pandas frame and the suite parameters.

The frame is the Arrow table seen through pandas with every type kept recoverable (the column
types check compares Arrow type names) and every column on a fast path of GX's pandas engine:
- strings stay Arrow-backed (pandas `str`), zero-copy; GX's regex checks then run in pyarrow's
  RE2, which is why the suites' patterns avoid \\s, \\d and look-arounds (pandas would fall back
  to Python's `re`, 5-8x slower);
- int/float columns become numpy, timestamps `datetime64[us, UTC]`: GX compares them vectorised;
- decimals stay Arrow decimals (`pd.ArrowDtype`), exact and zero-copy; the checks on them are
  aggregates or the custom revenue rule, which read them through pyarrow.
"""

from __future__ import annotations

import math
from datetime import date, timedelta
from typing import Any

import pandas as pd
import pyarrow as pa

from flows.dates import date_key
from flows.settings import Settings


def _keep_decimals(type_: pa.DataType) -> pd.ArrowDtype | None:
    return pd.ArrowDtype(type_) if pa.types.is_decimal(type_) else None


def gx_frame(table: pa.Table) -> pd.DataFrame:
    """The pandas frame GX validates for `table` (see the module docstring for the type mapping)."""
    frame: pd.DataFrame = table.to_pandas(types_mapper=_keep_decimals)
    return frame


def row_count_band(settings: Settings, expected_rows: int | None = None) -> tuple[int, int | None]:
    """(min, max) rows a day may receive: expected x (1 +- tolerance); (0, None) when expected is 0."""
    if expected_rows is None:
        expected_rows = settings.expected_rows_per_day
    if expected_rows is None:
        expected_rows = settings.transactions_per_day
    if expected_rows == 0:
        return 0, None
    tolerance = settings.row_count_tolerance
    low, high = (
        round(expected_rows * (1 - tolerance), 6),
        round(expected_rows * (1 + tolerance), 6),
    )  # 2000 x 0.2 is 399.99...
    return max(0, math.floor(low)), math.ceil(high)


def raw_parameters(settings: Settings, *, expected_rows: int | None = None) -> dict[str, Any]:
    """Suite parameters of the raw suite."""
    min_rows, max_rows = row_count_band(settings, expected_rows)
    return {
        "min_rows": min_rows,
        "max_rows": max_rows,
        # A field rule may fail on at most the share of rows the day may quarantine.
        "field_mostly": round(1.0 - settings.quarantine_threshold, 6),
    }


def accepted_days(settings: Settings, run_date: date) -> list[date]:
    """The days a file of `run_date` may carry records of, oldest first: [D - late_arrival_days, D]
    (a late record keeps its own day; with BAP_LATE_ARRIVAL_DAYS=0 only D itself)."""
    return [run_date - timedelta(days=back) for back in range(settings.late_arrival_days, -1, -1)]


def processed_parameters(
    settings: Settings, run_date: date, *, rows_received: int, rows_quarantined: int
) -> dict[str, Any]:
    """Suite parameters of the processed suite."""
    days = accepted_days(settings, run_date)
    return {
        "window_start": f"{days[0].isoformat()}T00:00:00+00:00",
        "window_end": f"{(run_date + timedelta(days=1)).isoformat()}T00:00:00+00:00",
        "date_keys": [date_key(day) for day in days],
        "rows_received": int(rows_received),
        "rows_quarantined": int(rows_quarantined),
        "max_quarantined_share": settings.quarantine_threshold,
        "min_success_share": round(1.0 - settings.failure_rate_warning, 6),
    }

"""The dashboard's rollups, defined once in SQL (warehouse_sql/load/rollup_city.sql and
rollup_region.sql): the signed change of the facts a load added and removed, merged into the fine
rollup; the coarse rollup of every touched day rebuilt from the fine one.

Facts a load adds without contest are summed here in Arrow, at the fine rollup's grain, before
they are COPYed (`stage_rollup`): the merge then reads a few thousand sums instead of scanning the
day's rows again. The sums are exact (decimals and integer milliseconds, as numeric(18,3) stores them).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from flows.transform import decimal_from_units
from flows.warehouse.bulk import Cursor, copy_table, run

GRAIN = ("date_key", "channel_key", "city_key", "segment", "status")
ROLLUP_COLUMNS = (*GRAIN, "txn_count", "amount_sum", "revenue_sum", "processing_time_sum")


def apply_rollup_changes(cursor: Cursor, days: list[int]) -> None:
    """Merge the change staged in _added / _displaced / _rollup_stage into the rollups of `days` (date keys)."""
    if not days:
        return
    run(cursor, "load/rollup_city.sql", {"days": days})
    run(cursor, "load/rollup_region.sql", {"days": days})


def rebuild_rollups(cursor: Cursor, days: list[int]) -> None:
    """Recompute the rollups of `days` from their facts (after customer versions changed)."""
    if not days:
        return
    run(cursor, "load/stage_day_facts.sql", {"days": days})
    apply_rollup_changes(cursor, days)


def segments_of(customer_keys: pa.Array, versions: list[tuple[Any, ...]]) -> pa.Array:
    """The segment of each fact's customer version (`versions` as keys.customer_versions returns them)."""
    positions = pc.index_in(customer_keys, value_set=pa.array([v[1] for v in versions], pa.int32()))
    return pc.take(pa.array([v[3] for v in versions], pa.string()), positions)


def rollup_of(facts: pa.Table, segments: pa.Array) -> pa.Table:
    """Facts (keyed, FACT_COLUMNS) summed at the fine rollup's grain: one row per day x channel x
    city x segment x status, as rollup_city.sql would sum them."""
    seconds = facts.column("processing_time_s").to_numpy()
    millis = np.round(seconds * 1000).astype(np.int64)  # processing_time_s holds 3 decimals (numeric(9,3))
    table = pa.table(
        {
            "date_key": facts.column("date_key"),
            "channel_key": facts.column("channel_key"),
            "city_key": facts.column("city_key"),
            "segment": segments,
            "status": facts.column("status"),
            "amount": facts.column("amount"),
            "revenue": facts.column("revenue"),
            "millis": millis,
        }
    )
    sums = table.group_by(list(GRAIN)).aggregate(
        [([], "count_all"), ("amount", "sum"), ("revenue", "sum"), ("millis", "sum")]
    )
    millis_sum = sums.column("millis_sum").to_numpy()
    return pa.table(
        {
            **{name: sums.column(name) for name in GRAIN},
            "txn_count": sums.column("count_all"),
            "amount_sum": sums.column("amount_sum"),
            "revenue_sum": sums.column("revenue_sum"),
            "processing_time_sum": decimal_from_units(millis_sum, pa.decimal128(18, 3)),
        }
    )


def stage_rollup(cursor: Cursor, facts: pa.Table, versions: list[tuple[Any, ...]]) -> None:
    """Stage the rollup change of facts a load adds without contest (merged by `apply_rollup_changes`)."""
    if facts.num_rows:
        sums = rollup_of(facts, segments_of(facts.column("customer_key"), versions))
        copy_table(cursor, sums, "_rollup_stage", ROLLUP_COLUMNS)

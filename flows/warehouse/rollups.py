"""The dashboard's rollups, defined once in SQL (warehouse_sql/load/rollup_city.sql and
rollup_region.sql): the signed change of the facts a load added and removed, merged into the fine
rollup; the coarse rollup of every touched day rebuilt from the fine one."""

from __future__ import annotations

from flows.warehouse.bulk import Cursor, run


def apply_rollup_changes(cursor: Cursor, days: list[int]) -> None:
    """Merge the change staged in _added / _displaced into the rollups of `days` (date keys)."""
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

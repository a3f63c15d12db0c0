"""The phases of a day load, in order; each takes the load's cursor (see flows.warehouse.load).

A file of day D holds records of the days [D - window, D]. Its records are versions of
transactions: the version of the latest file day wins (README "Transaction identity and time").
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from flows.contract import RAW_COLUMNS
from flows.dates import date_key, key_date
from flows.transform import CleanResult
from flows.warehouse import keys
from flows.warehouse.bulk import Cursor, copy_table, fetch, run
from flows.warehouse.rollups import apply_rollup_changes, stage_rollup

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
    "file_date",
)


@dataclass(frozen=True)
class Dimensions:
    """What the file's rows resolve to: (city_key, name, state, region) and customer versions."""

    cities: list[tuple[Any, ...]]
    customers: list[tuple[Any, ...]]


@dataclass(frozen=True)
class FileCounts:
    """A file day's accounting change made by one load (see warehouse_sql/load/count_changes.sql)."""

    file_date: date
    loaded: int
    loaded_earlier: int
    corrections: int
    superseded: int


def event_days(clean: CleanResult) -> list[date]:
    keys_ = pc.unique(clean.processed.column("date_key")).to_pylist()
    return sorted(key_date(k) for k in keys_)


def dimensions(cursor: Cursor, clean: CleanResult) -> Dimensions:
    """Calendar rows of the file's event days, new cities and inferred customers; their keys."""
    keys.upsert_days(cursor, sorted({clean.run_date, *event_days(clean)}))
    return Dimensions(keys.city_rows(cursor, clean.processed), keys.customer_versions(cursor, clean.processed))


def keyed_records(clean: CleanResult, dims: Dimensions) -> pa.Table:
    """The file's records with their surrogate keys (customer version as of each transaction_ts)."""
    facts = clean.processed
    return pa.table(
        {
            "date_key": facts.column("date_key"),
            "transaction_id": facts.column("transaction_id"),
            "customer_key": keys.customer_keys(facts, dims.customers),
            "channel_key": facts.column("channel_key"),
            "city_key": keys.city_keys(facts, dims.cities),
            "transaction_ts": facts.column("transaction_ts").cast(pa.timestamp("us")),  # UTC, see begin_day.sql
            "amount": facts.column("amount"),
            "status": facts.column("status"),
            "processing_time_s": facts.column("processing_time_s"),
            "processing_delay_bucket": facts.column("processing_delay_bucket"),
            "fee_percent": facts.column("fee_percent"),
            "revenue": facts.column("revenue"),
            "file_date": pa.array(np.full(facts.num_rows, clean.run_date, dtype="datetime64[D]"), pa.date32()),
        }
    )


def window_bounds(day: date, window_days: int) -> dict[str, Any]:
    """The days whose facts (file's day +- window) and file days whose superseded versions
    (+- 2 windows) can hold a version of a transaction the file carries."""
    window = timedelta(days=window_days)
    return {
        "file_date": day,
        "fact_lo": date_key(day - window),
        "fact_hi": date_key(day + window),
        "file_lo": day - 2 * window,
        "file_hi": day + 2 * window,
    }


def contested_mask(cursor: Cursor, day: date, window_days: int, ids: pa.ChunkedArray, reloaded: bool) -> pa.Array:
    """True for the records whose id a version in the window may share. An id outside every window
    day's [min, max] id range (two primary-key probes a day) and outside the superseded versions'
    range is shared by none. Every record is contested when an earlier load of the file day left
    versions, or when ids do not compare in byte order (Arrow's order) in this database."""
    if reloaded or not fetch(cursor, "load/ids_bytewise.sql")[0][0]:
        return pa.array(np.ones(len(ids), dtype=bool))
    if len(ids) == 0:
        return pa.array([], pa.bool_())
    bounds = window_bounds(day, window_days)
    span = [key_date(bounds["fact_lo"]) + timedelta(days=d) for d in range(2 * window_days + 1)]
    ranges = fetch(cursor, "load/superseded_id_range.sql", bounds)
    for key, exists in fetch(cursor, "load/ensure_partitions.sql", {"date_keys": [date_key(d) for d in span]}):
        if exists:
            ranges += fetch(cursor, "load/day_id_range.sql", {"date_key": key})
    mask = pa.array(np.zeros(len(ids), dtype=bool))
    file_range = pc.min_max(ids).as_py()
    for lo, hi in ranges:
        if lo is not None and lo <= file_range["max"] and file_range["min"] <= hi:  # else no id can be inside
            inside = pc.and_(pc.greater_equal(ids, lo), pc.less_equal(ids, hi))
            mask = pc.or_(mask, inside)
    return mask


@dataclass(frozen=True)
class Staged:
    """What `stage` did: the records added without contest, and the file day's partition."""

    reloaded: bool  # an earlier load of the file day left versions: every record is contested
    fresh: bool  # the file day's partition is a new table, indexed and attached by `reconcile`
    clear_days: list[int]  # date keys of the records added without contest
    clear: FileCounts
    contested: int = 0  # records staged in load_incoming


def stage(cursor: Cursor, clean: CleanResult, dims: Dimensions, window_days: int) -> Staged:
    """Split the file's keyed records: those whose ids no version in the window can share go
    straight into their days' partitions (the file day's COPYed into its partition, FREEZE and
    unindexed when it is new, FREEZE when it was empty), with their rollup sums; the others into
    load_incoming, for `reconcile`."""
    day, own_key = clean.run_date, date_key(clean.run_date)
    keyed = keyed_records(clean, dims)
    reloaded = bool(fetch(cursor, "load/was_loaded.sql", {"file_date": day})[0][0])
    # Before the identity probes: the dead rows of a day taken out would slow its id-range probe.
    renewed = not reloaded and renew_if_empty(cursor, own_key)
    contested = contested_mask(cursor, day, window_days, keyed.column("transaction_id"), reloaded)
    run(cursor, "load/stage_incoming.sql")
    clear = keyed.filter(pc.invert(contested))
    is_own = pc.equal(clear.column("date_key"), own_key)
    own, late = clear.filter(is_own), clear.filter(pc.invert(is_own))
    has_own = bool(pc.any(pc.equal(keyed.column("date_key"), own_key)).as_py())
    days = sorted(pc.unique(clear.column("date_key")).to_pylist())
    fresh = ensure_partitions(cursor, sorted({*days, *([own_key] if has_own else [])}), own_key)
    part = f"fact_transactions_d{own_key}" if has_own else "fact_transactions"
    if own.num_rows:
        copy_table(cursor, own, part, FACT_COLUMNS, freeze=fresh or renewed)
    if late.num_rows:
        copy_table(cursor, late, "_clear", FACT_COLUMNS)
        run(cursor, "load/insert_clear.sql")
    stage_rollup(cursor, clear, dims.customers)
    incoming = keyed.filter(contested)
    if incoming.num_rows:
        copy_table(cursor, incoming, "load_incoming", FACT_COLUMNS, freeze=True)
    run(cursor, "load/analyze_incoming.sql")
    counts = FileCounts(day, clear.num_rows, late.num_rows, 0, 0)
    return Staged(reloaded, fresh, days, counts, incoming.num_rows)


def reconcile(cursor: Cursor, day: date, window_days: int, staged: Staged) -> list[int]:
    """Replace what the file day held with its contested versions: competing versions leave, the
    latest file day's version of each transaction is the fact, the others are kept as superseded.
    Returns the date keys of the days whose facts changed (the uncontested records' included)."""
    params = {**window_bounds(day, window_days), "reloaded": staged.reloaded}
    span = [date_key(day + timedelta(days=d)) for d in range(-window_days, window_days + 1)]
    run(cursor, "load/drop_stray_load_table.sql", stray=f"fact_transactions_d{date_key(day)}_load")
    if staged.contested:
        for key, exists in fetch(cursor, "load/ensure_partitions.sql", {"date_keys": span}):
            if exists:
                run(cursor, "load/displace_day.sql", {"date_key": key}, part=f"fact_transactions_d{key}")
    run(cursor, "load/displace.sql", params)
    run(cursor, "load/pool.sql", params)
    run(cursor, "load/added.sql")
    days = [r[0] for r in fetch(cursor, "load/touched_days.sql")]
    ensure_partitions(cursor, days, -1)
    part = f"fact_transactions_d{date_key(day)}"
    target = part if staged.fresh else "fact_transactions"
    run(cursor, "load/insert_versions.sql", {"fresh_key": date_key(day) if staged.fresh else -1}, fresh=target)
    if staged.fresh:
        bounds = {"date_key": date_key(day), "next_key": date_key(day + timedelta(days=1))}
        run(cursor, "load/attach_fresh_partition.sql", bounds, part=part, range=f"{part}_range")
    return sorted({*days, *staged.clear_days})


def renew_if_empty(cursor: Cursor, key: int) -> bool:
    """Truncate the file day's existing partition when it holds no fact (a day taken out by an
    empty file, then loaded again): the day's rows then go into a new heap and index, frozen,
    instead of past the dead rows of its last load. Returns whether it did."""
    if not fetch(cursor, "load/ensure_partitions.sql", {"date_keys": [key]})[0][1]:
        return False  # no partition yet
    part = f"fact_transactions_d{key}"
    run(cursor, "load/partition_is_empty.sql", part=part)
    if not cursor.fetchall()[0][0]:
        return False
    run(cursor, "load/truncate_partition.sql", part=part)
    return True


def ensure_partitions(cursor: Cursor, days: list[int], own_key: int) -> bool:
    """Create the missing day partitions; the file day's own, when missing, as a fresh table that
    is indexed and attached after its rows are in (returns whether it is)."""
    fresh = False
    for key, exists in fetch(cursor, "load/ensure_partitions.sql", {"date_keys": days}):
        part = f"fact_transactions_d{key}"
        if exists:
            continue
        if key == own_key:
            run(cursor, "load/create_fresh_partition.sql", part=part)
            fresh = True
        else:
            params = {"date_key": key, "next_key": date_key(key_date(key) + timedelta(days=1))}
            run(cursor, "load/create_partition.sql", params, part=part)
    return fresh


def rollups(cursor: Cursor, days: list[int]) -> None:
    apply_rollup_changes(cursor, days)


def quarantine(cursor: Cursor, clean: CleanResult) -> None:
    """The file day's quarantine rows replace its previous ones, every original field as text."""
    run(cursor, "load/stage_quarantine.sql")
    cursor.execute("TRUNCATE _quarantine_stage")
    columns = (*RAW_COLUMNS, "source_file", "source_row", "reject_reason")
    copy_table(cursor, clean.rejected, "_quarantine_stage", columns)
    run(cursor, "load/replace_quarantine.sql", {"run_date": clean.run_date})


def audit(
    cursor: Cursor, clean: CleanResult, attempt: dict[str, Any], fingerprint: str, clear: FileCounts
) -> list[FileCounts]:
    """Record the file day's accounting, and the change of every file day the load touched (the
    records added without contest counted from the file, the others from the reconciliation)."""
    params = {
        **attempt,
        "run_date": clean.run_date,
        "received": clean.rows_received,
        "quarantined": clean.rejected.num_rows,
        "reasons": json.dumps(clean.quarantine_reasons),
        "duplicates": clean.duplicates_dropped,
        "message": None,
        "fingerprint": fingerprint,
    }
    run(cursor, "load/record_loaded.sql", params)
    changes = [FileCounts(*row) for row in fetch(cursor, "load/count_changes.sql")]
    if clear.loaded:
        changes.append(clear)
    for change in changes:
        run(cursor, "load/apply_count_changes.sql", {**change.__dict__, "by": clean.run_date})
    run(cursor, "load/drop_added.sql")
    run(cursor, "load/record_run.sql", {"run_date": clean.run_date, "message": None})
    return changes


def record_unchanged(cursor: Cursor, day: date, attempt: dict[str, Any]) -> None:
    run(cursor, "load/record_unchanged.sql", {**attempt, "run_date": day})
    run(cursor, "load/record_run.sql", {"run_date": day, "message": "unchanged"})

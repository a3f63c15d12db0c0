"""Transformation: dedupe, validate, enrich. Nothing is dropped silently.

Every record that enters leaves in exactly one of three places:
- processed (one row per accepted transaction),
- quarantine (one row per rejected record, every original field as text, with a reason code),
- counted as an exact duplicate of an earlier record (all fields equal), which is dropped.
So rows received = processed + quarantined + duplicates, per file day, always.

Steps, in order (the first rule a record breaks is its reason):
1. exact duplicates (every contract field identical, as raw text) keep the first copy;
2. the field rules of flows/rules.py, in the order of `field_reasons`;
3. repeated transaction_id with different content: the LAST valid record in file order wins
   (a later record is a correction); the earlier ones are quarantined as duplicate_transaction_id.
Event time: a record belongs to the UTC day of its transaction_ts (its `date_key`). A file of
day D accepts the days D - late_arrival_days to D; older records are `too_late`, later ones
`timestamp_outside_day`.
Money is exact: amounts are parsed from text into integer paise, revenue is computed in integer
arithmetic (round half up) and stored as decimal(12,2).
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from datetime import date

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from flows.contract import PROCESSED_SCHEMA, QUARANTINE_SCHEMA, RAW_COLUMNS
from flows.dates import date_key
from flows.reference import CHANNELS, FAST_BELOW_S, SLOW_FROM_S, STATE_REGION, UNKNOWN_REGION
from flows.rules import (
    CODES,
    REASONS,
    Amount,
    Codes,
    Column,
    EventWindow,
    Mask,
    amount_rule,
    channel_positions,
    channel_rule,
    customer_rule,
    first_reason,
    instants_us,
    length_rule,
    location_rule,
    normalised_status,
    parse_amount,
    parse_seconds,
    parse_timestamps,
    processing_time_rule,
    reason_names,
    status_rule,
    timestamp_rule,
    transaction_id_rule,
    trimmed,
)

__all__ = [
    "PROCESSED_SCHEMA",
    "QUARANTINE_SCHEMA",
    "REASONS",
    "CleanResult",
    "clean_transactions",
    "decimal_from_units",
    "processing_delay_bucket",
    "revenue_paise",
]

log = logging.getLogger("bap.processing")

_CHANNEL_KEYS = np.array([key for key, _ in CHANNELS.values()], dtype=np.int16)
_FEE_BASIS_POINTS = np.array([int(fee * 100) for _, fee in CHANNELS.values()], dtype=np.int64)


@dataclass(frozen=True)
class CleanResult:
    """processed: one row per accepted transaction; rejected: one row per quarantined record."""

    run_date: date  # the file's day
    processed: pa.Table  # PROCESSED_SCHEMA; date_key is each record's own UTC day
    rejected: pa.Table  # QUARANTINE_SCHEMA
    duplicates_dropped: int
    rows_received: int

    @property
    def quarantine_reasons(self) -> dict[str, int]:
        if self.rejected.num_rows == 0:
            return {}
        counts = Counter(self.rejected.column("reject_reason").to_pylist())
        return dict(sorted(counts.items()))

    @property
    def rows_late(self) -> int:
        """Processed rows of a day before run_date (late arrivals: loaded into their own day)."""
        keys = self.processed.column("date_key").to_numpy()
        return int(np.count_nonzero(keys < date_key(self.run_date)))

    @property
    def reconciles(self) -> bool:
        return bool(self.rows_received == self.processed.num_rows + self.rejected.num_rows + self.duplicates_dropped)


@dataclass(frozen=True)
class Fields:
    """A file's records trimmed and parsed, one entry per record."""

    transaction_id: Column
    customer_id: Column
    city: Column
    state: Column
    channel: Column
    channel_position: npt.NDArray[np.int64]
    status: Column
    amount: Amount
    transaction_ts: pa.Array
    processing_time_s: npt.NDArray[np.float64]
    source_row: Column


def parse_fields(records: pa.Table, transaction_id: Column) -> Fields:
    """`transaction_id` is the records' id column, already trimmed."""
    channel = pc.fill_null(trimmed(records.column("channel")), "")
    return Fields(
        transaction_id=transaction_id,
        customer_id=trimmed(records.column("customer_id")),
        city=trimmed(records.column("city")),
        state=trimmed(records.column("state")),
        channel=channel,
        channel_position=channel_positions(channel),
        status=normalised_status(records.column("status")),
        amount=parse_amount(records.column("amount")),
        transaction_ts=parse_timestamps(records.column("transaction_ts")),
        processing_time_s=parse_seconds(records.column("processing_time_s")),
        source_row=records.column("source_row"),
    )


def field_reasons(fields: Fields, window: EventWindow) -> Codes:
    """The field rules, in the order they apply: each record's first broken rule, or 0."""
    return first_reason(
        transaction_id_rule(fields.transaction_id),
        amount_rule(fields.amount),
        status_rule(fields.status),
        channel_rule(fields.channel_position),
        timestamp_rule(fields.transaction_ts, window),
        customer_rule(fields.customer_id),
        location_rule(fields.city, fields.state),
        length_rule(
            {
                "transaction_id": fields.transaction_id,
                "customer_id": fields.customer_id,
                "city": fields.city,
                "state": fields.state,
            }
        ),
        processing_time_rule(fields.processing_time_s),
    )


# --- duplicates -----------------------------------------------------------------------------------


def id_groups(transaction_id: Column) -> npt.NDArray[np.int64]:
    """A number per record, equal for records of equal id (null is one id of its own)."""
    encoded = pc.dictionary_encode(transaction_id, null_encoding="encode")
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()
    return np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64)


def _sharing(groups: npt.NDArray[np.int64]) -> Mask:
    """True where another record is in the same group."""
    return np.bincount(groups)[groups] > 1 if len(groups) else np.zeros(0, dtype=bool)


def exact_duplicates(records: pa.Table, groups: npt.NDArray[np.int64]) -> Mask:
    """True for every copy after the first of a record (all contract fields equal, as raw text).

    Only records that share an id (`groups`) can be copies, so the whole-record comparison runs
    on those alone, usually a few."""
    candidates = np.flatnonzero(_sharing(groups))
    duplicate = np.zeros(records.num_rows, dtype=bool)
    if len(candidates):
        subset = records.take(pa.array(candidates))
        parts = [pc.fill_null(subset.column(c), "\x00") for c in RAW_COLUMNS]  # null apart from empty
        keys = pc.binary_join_element_wise(*parts, "\x1f").combine_chunks()
        first = pc.index_in(keys, value_set=keys).to_numpy(zero_copy_only=False)
        duplicate[candidates[first != np.arange(len(candidates))]] = True
    return duplicate


def superseded(groups: npt.NDArray[np.int64], valid: Mask) -> Mask:
    """True for a valid record when a later valid record carries the same id (the last one wins)."""
    counts = np.bincount(groups[valid], minlength=int(groups.max(initial=-1)) + 1)
    repeated = np.flatnonzero(valid & (counts[groups] > 1))
    result = np.zeros(len(groups), dtype=bool)
    if len(repeated):
        _, last = np.unique(groups[repeated][::-1], return_index=True)
        result[repeated] = True
        result[repeated[::-1][last]] = False
    return result


# --- enrichment -----------------------------------------------------------------------------------


def processing_delay_bucket(seconds: Column) -> pa.Array:
    """fast below FAST_BELOW_S, slow from SLOW_FROM_S, medium in between."""
    return pc.if_else(
        pc.less(seconds, FAST_BELOW_S), "fast", pc.if_else(pc.less(seconds, SLOW_FROM_S), "medium", "slow")
    )


def revenue_paise(
    amount_paise: npt.NDArray[np.int64], fee_basis_points: npt.NDArray[np.int64], success: Mask
) -> npt.NDArray[np.int64]:
    """amount x fee_percent / 100, rounded half up to the paisa; failed transactions earn 0."""
    revenue = (amount_paise * fee_basis_points + 5_000) // 10_000
    return np.where(success, revenue, 0)


def decimal_from_units(units: npt.NDArray[np.int64], type_: pa.Decimal128Type) -> pa.Array:
    """Exact decimal array from integers in 10**-scale units (no float round trip)."""
    units = np.ascontiguousarray(units, dtype=np.int64)
    words = np.empty((len(units), 2), dtype=np.int64)
    words[:, 0] = units
    words[:, 1] = units >> 63  # sign extension into the high 64 bits
    return pa.Array.from_buffers(type_, len(units), [None, pa.py_buffer(words)])


def region_of_states(state: Column) -> pa.Array:
    """reference.STATE_REGION per state; UNKNOWN_REGION for a state it does not list."""
    positions = pc.index_in(state, pa.array(list(STATE_REGION)))
    return pc.fill_null(pc.take(pa.array(list(STATE_REGION.values())), positions), UNKNOWN_REGION)


def processed_table(fields: Fields, valid: Mask, window: EventWindow) -> pa.Table:
    """The accepted records, enriched: one row per transaction, PROCESSED_SCHEMA."""
    keep = pa.array(valid)
    position = fields.channel_position[valid]
    fee = _FEE_BASIS_POINTS[position]
    status = pc.filter(fields.status, keep)
    paise = fields.amount.paise[valid]
    seconds = pa.array(np.round(fields.processing_time_s[valid], 3))
    timestamps = pc.filter(fields.transaction_ts, keep)
    state = pc.filter(fields.state, keep)
    success = np.asarray(pc.equal(status, "SUCCESS").to_numpy(zero_copy_only=False), dtype=bool)
    columns: dict[str, Column] = {
        "transaction_id": pc.filter(fields.transaction_id, keep),
        "transaction_ts": timestamps,
        "date_key": pa.array(window.date_keys(instants_us(timestamps))),
        "customer_id": pc.filter(fields.customer_id, keep),
        "city": pc.filter(fields.city, keep),
        "state": state,
        "region": region_of_states(state),
        "channel": pc.filter(fields.channel, keep),
        "channel_key": pa.array(_CHANNEL_KEYS[position]),
        "amount": decimal_from_units(paise, pa.decimal128(12, 2)),
        "status": status,
        "processing_time_s": seconds,
        "processing_delay_bucket": processing_delay_bucket(seconds),
        "fee_percent": decimal_from_units(fee, pa.decimal128(5, 2)),
        "revenue": decimal_from_units(revenue_paise(paise, fee, success), pa.decimal128(12, 2)),
        "source_row": pc.filter(fields.source_row, keep),
    }
    return pa.table(columns, schema=PROCESSED_SCHEMA)


def quarantine_table(records: pa.Table, codes: Codes, malformed: pa.Table) -> pa.Table:
    """The rejected records, every original field as text, then the malformed ones: QUARANTINE_SCHEMA."""
    rejected = codes != 0
    parsed = records.filter(pa.array(rejected)).append_column("reject_reason", reason_names(codes[rejected]))
    tables = [parsed.select(QUARANTINE_SCHEMA.names).cast(QUARANTINE_SCHEMA)]
    if malformed.num_rows:
        unparsed = pa.table(
            {
                # Keep the unparsed text where the operator looks first: the transaction_id field.
                "transaction_id": malformed.column("raw_text"),
                **{c: pa.nulls(malformed.num_rows, pa.string()) for c in RAW_COLUMNS[1:]},
                "source_file": malformed.column("source_file"),
                "source_row": malformed.column("source_row"),
                "reject_reason": malformed.column("reason"),
            }
        )
        tables.append(unparsed.cast(QUARANTINE_SCHEMA))
    return pa.concat_tables(tables)


# --- the pipeline ---------------------------------------------------------------------------------


def clean_transactions(
    records: pa.Table, malformed: pa.Table, run_date: date, *, late_arrival_days: int = 0
) -> CleanResult:
    """One row per accepted transaction of the file of `run_date`; rejects carry a reason.

    A record's own day (UTC) may be `run_date` or one of the `late_arrival_days` days before it."""
    window = EventWindow.ending(run_date, late_arrival_days)
    received = records.num_rows + malformed.num_rows
    transaction_id = trimmed(records.column("transaction_id"))
    groups = id_groups(transaction_id)
    duplicate = exact_duplicates(records, groups)
    if duplicate.any():
        kept = pa.array(~duplicate)
        records, transaction_id, groups = records.filter(kept), pc.filter(transaction_id, kept), groups[~duplicate]
    fields = parse_fields(records, transaction_id)
    codes = field_reasons(fields, window)
    codes = np.where(superseded(groups, codes == 0), np.uint8(CODES["duplicate_transaction_id"]), codes)
    valid = codes == 0
    processed = processed_table(fields, valid, window)
    # One chunk per column: pyarrow's CSV writer (used by the warehouse COPY) emits stale buffer
    # bytes - 8 KiB of NULs - when a table's first chunk is empty (apache/arrow#36889), which a
    # header-only first file or malformed-only quarantine produces.
    result = CleanResult(
        run_date=run_date,
        processed=processed.combine_chunks(),
        rejected=quarantine_table(records, codes, malformed).combine_chunks(),
        duplicates_dropped=int(duplicate.sum()),
        rows_received=received,
    )
    assert result.reconciles, "row accounting does not reconcile"
    _log_result(result)
    return result


def _log_result(result: CleanResult) -> None:
    log.info(
        "day transformed",
        extra={
            "run_date": str(result.run_date),
            "received": result.rows_received,
            "processed": result.processed.num_rows,
            "late": result.rows_late,
            "quarantined": result.rejected.num_rows,
            "duplicates_dropped": result.duplicates_dropped,
            "reasons": result.quarantine_reasons,
        },
    )

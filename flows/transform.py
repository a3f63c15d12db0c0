"""Transformation: dedupe, validate, enrich. Nothing is dropped silently.

Every record that enters leaves in exactly one of three places:
- processed (one row per accepted transaction),
- quarantine (one row per rejected record, every original field as text, with a reason code),
- counted as an exact duplicate of an earlier record (all fields equal), which is dropped.
So rows received = processed + quarantined + duplicates, per day, always.

Rules, in the order they are applied (the first rule a record breaks is its reason):
1. exact duplicates (every contract field identical, after the raw text) keep the first copy;
2. field rules (see REASONS);
3. repeated transaction_id with different content: the LAST valid record in file order wins
   (a later record is a correction); the earlier ones are quarantined as duplicate_transaction_id.
Money is exact: amounts are parsed from text into integer paise, revenue is computed in integer
arithmetic (round half up) and stored as decimal(12,2).
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from flows.contract import MAX_AMOUNT_EXCLUSIVE, MAX_PROCESSING_TIME_S, MAX_TEXT_LENGTH, PROCESSED_COLUMNS, RAW_COLUMNS
from flows.reference import CHANNELS, FAST_BELOW_S, SLOW_FROM_S, STATE_REGION, STATUSES, UNKNOWN_REGION

log = logging.getLogger("bap.processing")

# Reason code -> what it means (README "Quarantine reasons" is generated from this).
REASONS: dict[str, str] = {
    "malformed_record": "the record could not be split into the header's fields",
    "missing_transaction_id": "transaction_id is empty",
    "invalid_amount": "amount is not a plain decimal number",
    "amount_not_positive": "amount is zero or negative",
    "amount_too_many_decimals": "amount has more than 2 decimal places",
    "amount_out_of_range": "amount is 10,000,000,000 or more",
    "unknown_status": "status is not SUCCESS or FAILED",
    "unknown_channel": "channel is not a known payment channel",
    "invalid_timestamp": "transaction_ts is not an ISO 8601 timestamp",
    "timestamp_outside_day": "transaction_ts is not inside the partition day (UTC)",
    "missing_customer_id": "customer_id is empty",
    "missing_city": "city or state is empty",
    "invalid_processing_time": "processing_time_s is not a number between 0 and 1,000,000",
    "value_too_long": "transaction_id (64), customer_id (50), city or state (100 characters) is longer than the warehouse holds",
    "duplicate_transaction_id": "a later record of the same day carries the same transaction_id",
}

_NUMBER = r"^[+-]?(\d+(\.\d*)?|\.\d+)$"
_ISO_TS = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?$"

PROCESSED_SCHEMA = pa.schema(
    [
        ("transaction_id", pa.string()),
        ("transaction_ts", pa.timestamp("us", tz="UTC")),
        ("date_key", pa.int32()),
        ("customer_id", pa.string()),
        ("city", pa.string()),
        ("state", pa.string()),
        ("region", pa.string()),
        ("channel", pa.string()),
        ("channel_key", pa.int16()),
        ("amount", pa.decimal128(12, 2)),
        ("status", pa.string()),
        ("processing_time_s", pa.float64()),
        ("processing_delay_bucket", pa.string()),
        ("fee_percent", pa.decimal128(5, 2)),
        ("revenue", pa.decimal128(12, 2)),
        ("source_row", pa.int64()),
    ]
)
assert tuple(PROCESSED_SCHEMA.names) == PROCESSED_COLUMNS

QUARANTINE_SCHEMA = pa.schema(
    [(c, pa.string()) for c in RAW_COLUMNS]
    + [("source_file", pa.string()), ("source_row", pa.int64()), ("reject_reason", pa.string())]
)


@dataclass(frozen=True)
class CleanResult:
    """processed: one row per accepted transaction; rejected: one row per quarantined record."""

    run_date: date
    processed: pa.Table
    rejected: pa.Table
    duplicates_dropped: int
    rows_received: int

    @property
    def quarantine_reasons(self) -> dict[str, int]:
        if self.rejected.num_rows == 0:
            return {}
        counts = Counter(self.rejected.column("reject_reason").to_pylist())
        return dict(sorted(counts.items()))

    @property
    def reconciles(self) -> bool:
        return self.rows_received == self.processed.num_rows + self.rejected.num_rows + self.duplicates_dropped


def processing_delay_bucket(seconds: pa.Array | pa.ChunkedArray) -> pa.Array:
    """fast below FAST_BELOW_S, slow from SLOW_FROM_S, medium in between."""
    return pc.if_else(
        pc.less(seconds, FAST_BELOW_S), "fast", pc.if_else(pc.less(seconds, SLOW_FROM_S), "medium", "slow")
    )


def revenue_paise(amount_paise: np.ndarray, fee_basis_points: np.ndarray, success: np.ndarray) -> np.ndarray:
    """amount x fee_percent / 100, rounded half up to the paisa; failed transactions earn 0."""
    revenue = (amount_paise * fee_basis_points + 5_000) // 10_000
    return np.where(success, revenue, 0)


def decimal_from_units(units: np.ndarray, type_: pa.Decimal128Type) -> pa.Array:
    """Exact decimal array from integers in 10**-scale units (no float round trip)."""
    units = np.ascontiguousarray(units, dtype=np.int64)
    words = np.empty((len(units), 2), dtype=np.int64)
    words[:, 0] = units
    words[:, 1] = units >> 63  # sign extension into the high 64 bits
    return pa.Array.from_buffers(type_, len(units), [None, pa.py_buffer(words.tobytes())])


def _day_bounds(run_date: date) -> tuple[pd.Timestamp, pd.Timestamp]:
    start = datetime(run_date.year, run_date.month, run_date.day, tzinfo=UTC)
    return pd.Timestamp(start), pd.Timestamp(start + timedelta(days=1))


def _trim(column: pa.ChunkedArray) -> pa.ChunkedArray:
    return pc.utf8_trim_whitespace(column)


def _blank(column: pa.ChunkedArray) -> np.ndarray:
    return pc.fill_null(pc.equal(pc.utf8_length(column), 0), True).to_numpy(zero_copy_only=False)


def _row_keys(records: pa.Table) -> pa.ChunkedArray:
    """One string per record joining every contract field (null marked apart from empty)."""
    parts = [pc.fill_null(records.column(c), "\x00") for c in RAW_COLUMNS]
    return pc.binary_join_element_wise(*parts, "\x1f")


def _repeats(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """True where a value already occurred earlier in the array (hash lookup, no sort)."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    first = pc.index_in(values, value_set=values).to_numpy(zero_copy_only=False)
    return first != np.arange(len(values))


def _shared(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """True where a value occurs more than once in the array (nulls count as one value)."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    first = pc.index_in(values, value_set=values).to_numpy(zero_copy_only=False)
    return np.bincount(first, minlength=len(values))[first] > 1


def clean_transactions(records: pa.Table, malformed: pa.Table, run_date: date) -> CleanResult:
    """One row per accepted transaction of `run_date`; rejects carry a reason."""
    received = records.num_rows + malformed.num_rows

    # 1. exact duplicates: keep the first copy. Only records sharing a transaction_id can be
    #    copies, so the whole-record comparison runs on those alone (usually none).
    duplicate = np.zeros(records.num_rows, dtype=bool)
    candidates = np.flatnonzero(_shared(records.column("transaction_id")))
    if len(candidates):
        duplicate[candidates[_repeats(_row_keys(records.take(pa.array(candidates))))]] = True
    duplicates_dropped = int(duplicate.sum())
    if duplicates_dropped:
        records = records.filter(pa.array(~duplicate))
    n = records.num_rows

    # 2. field rules; `reason` holds the first rule each record breaks.
    reason = np.full(n, None, dtype=object)

    def flag(mask: np.ndarray, code: str) -> None:
        hit = mask & (reason == None)  # noqa: E711 - numpy elementwise comparison
        reason[hit] = code

    tx_id = _trim(records.column("transaction_id"))
    flag(_blank(tx_id), "missing_transaction_id")

    amount_text = pc.fill_null(_trim(records.column("amount")), "")
    is_number = pc.match_substring_regex(amount_text, _NUMBER).to_numpy(zero_copy_only=False)
    flag(~is_number, "invalid_amount")
    parts = pc.extract_regex(
        pc.if_else(pa.array(is_number), amount_text, "0"), r"^(?P<sign>[+-]?)(?P<whole>\d*)\.?(?P<frac>\d*)$"
    )
    sign = pc.struct_field(parts, "sign")
    whole = pc.struct_field(parts, "whole")
    frac = pc.struct_field(parts, "frac")
    whole_digits = pc.utf8_length(pc.utf8_ltrim(whole, "0")).to_numpy(zero_copy_only=False)
    frac_len = pc.utf8_length(frac).to_numpy(zero_copy_only=False)
    too_big = whole_digits > len(str(MAX_AMOUNT_EXCLUSIVE)) - 1
    safe_whole = pc.if_else(pa.array(too_big | (whole_digits == 0)), "0", whole)
    whole_int = pc.cast(safe_whole, pa.int64()).to_numpy(zero_copy_only=False)
    frac2 = pc.utf8_slice_codeunits(pc.utf8_rpad(frac, 2, "0"), 0, 2)
    frac_int = pc.cast(frac2, pa.int64()).to_numpy(zero_copy_only=False)
    negative = pc.equal(sign, "-").to_numpy(zero_copy_only=False)
    paise = whole_int * 100 + frac_int
    flag(is_number & ~too_big & (negative | (paise == 0)), "amount_not_positive")
    flag(is_number & (frac_len > 2), "amount_too_many_decimals")
    flag(is_number & too_big, "amount_out_of_range")

    status = pc.utf8_upper(pc.fill_null(_trim(records.column("status")), ""))
    flag(~pc.is_in(status, pa.array(STATUSES)).to_numpy(zero_copy_only=False), "unknown_status")

    channel = pc.fill_null(_trim(records.column("channel")), "")
    channel_index = pc.index_in(channel, pa.array(list(CHANNELS))).to_numpy(zero_copy_only=False)
    channel_known = ~np.isnan(channel_index.astype(float))
    flag(~channel_known, "unknown_channel")

    ts_text = pc.fill_null(_trim(records.column("transaction_ts")), "")
    ts_shape = pc.match_substring_regex(ts_text, _ISO_TS).to_numpy(zero_copy_only=False)
    ts = pd.to_datetime(
        pd.Series(pc.if_else(pa.array(ts_shape), ts_text, None).to_pandas(), dtype="object"),
        errors="coerce",
        utc=True,
        format="ISO8601",
    )
    ts_ok = ts.notna().to_numpy()
    flag(~ts_ok, "invalid_timestamp")
    day_start, day_end = _day_bounds(run_date)
    inside = ((ts >= day_start) & (ts < day_end)).fillna(False).to_numpy(dtype=bool)
    flag(ts_ok & ~inside, "timestamp_outside_day")

    customer = _trim(records.column("customer_id"))
    flag(_blank(customer), "missing_customer_id")
    city = _trim(records.column("city"))
    state = _trim(records.column("state"))
    flag(_blank(city) | _blank(state), "missing_city")
    trimmed = {"transaction_id": tx_id, "customer_id": customer, "city": city, "state": state}
    for name, limit in MAX_TEXT_LENGTH.items():
        flag(
            pc.fill_null(pc.greater(pc.utf8_length(trimmed[name]), limit), False).to_numpy(zero_copy_only=False),
            "value_too_long",
        )

    proc_text = pc.fill_null(_trim(records.column("processing_time_s")), "")
    proc_is_number = pc.match_substring_regex(proc_text, _NUMBER).to_numpy(zero_copy_only=False)
    proc = pc.cast(pc.if_else(pa.array(proc_is_number), proc_text, "-1"), pa.float64()).to_numpy(zero_copy_only=False)
    # Checked as stored (3 decimals): 999999.9996 would round to 1,000,000.000.
    flag(~proc_is_number | (proc < 0) | (np.round(proc, 3) >= MAX_PROCESSING_TIME_S), "invalid_processing_time")

    # 3. repeated ids among valid records: the last one in file order wins.
    valid = reason == None  # noqa: E711
    repeated = np.flatnonzero(valid & _shared(tx_id)) if valid.any() else np.array([], dtype=np.int64)
    if len(repeated):
        later_first = pc.take(tx_id, pa.array(repeated[::-1]))  # the valid records whose id repeats, last first
        superseded = repeated[_repeats(later_first)[::-1]]
        reason[superseded] = "duplicate_transaction_id"
        valid[superseded] = False

    # Quarantine: every original field as text.
    rejected_idx = np.flatnonzero(~valid)
    rejected = records.take(pa.array(rejected_idx)).append_column(
        "reject_reason", pa.array(reason[rejected_idx].tolist(), pa.string())
    )
    if malformed.num_rows:
        extra = pa.table(
            {
                **{c: pa.nulls(malformed.num_rows, pa.string()) for c in RAW_COLUMNS},
                "source_file": malformed.column("source_file"),
                "source_row": malformed.column("source_row"),
                "reject_reason": malformed.column("reason"),
            }
        )
        # Keep the unparsed text where the operator looks first: the transaction_id field.
        extra = extra.set_column(0, "transaction_id", malformed.column("raw_text"))
        rejected = pa.concat_tables(
            [rejected.select(QUARANTINE_SCHEMA.names).cast(QUARANTINE_SCHEMA), extra.cast(QUARANTINE_SCHEMA)]
        )
    else:
        rejected = rejected.select(QUARANTINE_SCHEMA.names).cast(QUARANTINE_SCHEMA)

    # Enrich the accepted records.
    keep = np.flatnonzero(valid)
    take = pa.array(keep)
    ch_idx = channel_index[keep].astype(np.int64)
    channel_items = list(CHANNELS.items())
    channel_keys = np.array([v[0] for _, v in channel_items], dtype=np.int16)[ch_idx]
    fee_bp = np.array([int(v[1] * 100) for _, v in channel_items], dtype=np.int64)[ch_idx]
    kept_status = pc.take(status, take)
    success = pc.equal(kept_status, "SUCCESS").to_numpy(zero_copy_only=False)
    kept_paise = paise[keep]
    kept_proc = np.round(proc[keep], 3)
    kept_state = pc.take(state, take)
    region = pc.fill_null(
        pc.take(pa.array(list(STATE_REGION.values())), pc.index_in(kept_state, pa.array(list(STATE_REGION)))),
        UNKNOWN_REGION,
    )
    date_key = int(run_date.strftime("%Y%m%d"))
    processed = pa.table(
        {
            "transaction_id": pc.take(tx_id, take),
            "transaction_ts": pa.array(ts.iloc[keep].dt.as_unit("us"), pa.timestamp("us", tz="UTC")),
            "date_key": pa.array(np.full(len(keep), date_key, dtype=np.int32)),
            "customer_id": pc.take(customer, take),
            "city": pc.take(city, take),
            "state": kept_state,
            "region": region,
            "channel": pc.take(channel, take),
            "channel_key": pa.array(channel_keys),
            "amount": decimal_from_units(kept_paise, pa.decimal128(12, 2)),
            "status": kept_status,
            "processing_time_s": pa.array(kept_proc),
            "processing_delay_bucket": processing_delay_bucket(pa.array(kept_proc)),
            "fee_percent": decimal_from_units(fee_bp, pa.decimal128(5, 2)),
            "revenue": decimal_from_units(revenue_paise(kept_paise, fee_bp, success), pa.decimal128(12, 2)),
            "source_row": pc.take(records.column("source_row"), take),
        },
        schema=PROCESSED_SCHEMA,
    )
    # One chunk per column: pyarrow's CSV writer (used by the warehouse COPY) emits stale buffer
    # bytes - 8 KiB of NULs - when a table's first chunk is empty (apache/arrow#36889), which a
    # header-only first file or malformed-only quarantine produces.
    result = CleanResult(
        run_date=run_date,
        processed=processed.combine_chunks(),
        rejected=rejected.combine_chunks(),
        duplicates_dropped=duplicates_dropped,
        rows_received=received,
    )
    assert result.reconciles, "row accounting does not reconcile"
    log.info(
        "day transformed",
        extra={
            "run_date": str(run_date),
            "received": received,
            "processed": processed.num_rows,
            "quarantined": rejected.num_rows,
            "duplicates_dropped": duplicates_dropped,
            "reasons": result.quarantine_reasons,
        },
    )
    return result

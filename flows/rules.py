"""The raw contract's field rules: named, pure functions from a file's columns to reason codes.

A rule looks at one field (two for `location_rule`) of every record at once, vectorised, and
returns one reason code per record: 0 where the record passes, else the code of the REASONS
entry it breaks (`CODES`). `first_reason` combines rules: the first one a record breaks, in the
order given, is its reason. Parsing lives here too, so that each rule and the enrichment read
the same values: text is trimmed, amounts become integer paise (exact, never a float),
timestamps become UTC instants.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final, TypeAlias

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from flows.contract import MAX_AMOUNT_EXCLUSIVE, MAX_PROCESSING_TIME_S, MAX_TEXT_LENGTH
from flows.dates import date_key
from flows.reference import CHANNELS, STATUSES

Column: TypeAlias = pa.Array | pa.ChunkedArray
Codes: TypeAlias = npt.NDArray[np.uint8]  # one reason code per record; 0 = no reason
Mask: TypeAlias = npt.NDArray[np.bool_]

# Reason code -> what it means (README "Quarantine reasons" is checked against this).
REASONS: Final[dict[str, str]] = {
    "malformed_record": "the record could not be split into the header's fields",
    "missing_transaction_id": "transaction_id is empty",
    "invalid_amount": "amount is not a plain decimal number",
    "amount_not_positive": "amount is zero or negative",
    "amount_too_many_decimals": "amount has more than 2 decimal places",
    "amount_out_of_range": "amount is 10,000,000,000 or more",
    "unknown_status": "status is not SUCCESS or FAILED",
    "unknown_channel": "channel is not a known payment channel",
    "invalid_timestamp": "transaction_ts is not an ISO 8601 timestamp",
    "timestamp_outside_day": "transaction_ts is after the file's day (UTC)",
    "too_late": "transaction_ts is more than BAP_LATE_ARRIVAL_DAYS days before the file's day (UTC)",
    "missing_customer_id": "customer_id is empty",
    "missing_city": "city or state is empty",
    "invalid_processing_time": "processing_time_s is not a number between 0 and 1,000,000",
    "value_too_long": "transaction_id (64), customer_id (50), city or state (100 characters) is longer than the warehouse holds",
    "duplicate_transaction_id": "a later record of the same file carries the same transaction_id",
}
CODES: Final[dict[str, int]] = {reason: code for code, reason in enumerate(REASONS, start=1)}
_NAMES: Final[pa.Array] = pa.array([None, *REASONS], pa.string())

TIMESTAMP_TYPE: Final[pa.DataType] = pa.timestamp("us", tz="UTC")
_US_PER_DAY: Final[int] = 86_400_000_000
_EPOCH: Final[date] = date(1970, 1, 1)
_MAX_WHOLE_DIGITS: Final[int] = len(str(MAX_AMOUNT_EXCLUSIVE)) - 1
_ISO_TS: Final[str] = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?$"


# --- combining rules ------------------------------------------------------------------------------


def flag(mask: Mask, reason: str) -> Codes:
    """`reason`'s code where `mask` holds, 0 elsewhere."""
    return mask.astype(np.uint8) * np.uint8(CODES[reason])


def first_reason(*verdicts: Codes) -> Codes:
    """Per record, the code of the first rule (in argument order) it breaks; 0 if it breaks none."""
    result = verdicts[0]
    for verdict in verdicts[1:]:
        result = np.where(result != 0, result, verdict)
    return result


def reason_names(codes: Codes) -> pa.Array:
    """The reason of each code as text (null for 0)."""
    return _NAMES.take(pa.array(codes, pa.uint8()))


def as_mask(values: Column) -> Mask:
    """A boolean Arrow column as a numpy mask, null counting as false."""
    return np.asarray(pc.fill_null(values, False).to_numpy(zero_copy_only=False), dtype=bool)


# --- text -----------------------------------------------------------------------------------------


def trimmed(column: Column) -> Column:
    """Surrounding blanks removed (null stays null)."""
    return pc.utf8_trim_whitespace(column)


def is_blank(column: Column) -> Mask:
    """Null or empty (after trimming)."""
    return ~as_mask(pc.greater(pc.binary_length(column), 0))


def transaction_id_rule(transaction_id: Column) -> Codes:
    return flag(is_blank(transaction_id), "missing_transaction_id")


def customer_rule(customer_id: Column) -> Codes:
    return flag(is_blank(customer_id), "missing_customer_id")


def location_rule(city: Column, state: Column) -> Codes:
    return flag(is_blank(city) | is_blank(state), "missing_city")


def length_rule(values: Mapping[str, Column]) -> Codes:
    """A value longer than its warehouse column holds (MAX_TEXT_LENGTH, in characters)."""
    too_long = np.zeros(len(next(iter(values.values()))), dtype=bool)
    for name, limit in MAX_TEXT_LENGTH.items():
        # A character is one to four bytes: only values of more than `limit` bytes need counting.
        suspects = np.flatnonzero(as_mask(pc.greater(pc.binary_length(values[name]), limit)))
        if len(suspects):
            characters = pc.utf8_length(pc.take(values[name], pa.array(suspects)))
            too_long[suspects[as_mask(pc.greater(characters, limit))]] = True
    return flag(too_long, "value_too_long")


def normalised_status(status: Column) -> Column:
    """Status with blanks removed and upper-cased: ' success ' -> 'SUCCESS'."""
    return pc.utf8_upper(pc.fill_null(trimmed(status), ""))


def status_rule(status: Column) -> Codes:
    """`status` as normalised_status returns it."""
    return flag(~as_mask(pc.is_in(status, pa.array(STATUSES))), "unknown_status")


def channel_positions(channel: Column) -> npt.NDArray[np.int64]:
    """Each channel's position in reference.CHANNELS (exact name after trimming), -1 if unknown."""
    positions = pc.index_in(channel, pa.array(list(CHANNELS)))
    return np.asarray(pc.fill_null(positions, -1).to_numpy(zero_copy_only=False), dtype=np.int64)


def channel_rule(positions: npt.NDArray[np.int64]) -> Codes:
    """`positions` as channel_positions returns them."""
    return flag(positions < 0, "unknown_channel")


# --- amount ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Amount:
    """Amount texts read exactly, one entry per record."""

    is_number: Mask  # a plain decimal: optional sign, digits, optional point and digits
    negative: Mask
    whole_digits: npt.NDArray[np.int64]  # digits before the point, leading zeros aside
    decimals: npt.NDArray[np.int64]  # digits after the point
    paise: npt.NDArray[np.int64]  # whole x 100 + the first two decimals; 0 unless a number in range


def plain_decimals(text: Column) -> tuple[Mask, Column, Column]:
    """Where a trimmed text is a plain decimal - one sign at most, then digits with one point at
    most, at least one digit: `+5`, `.5`, `5.`, `-12.50` - with the text unsigned and its digits
    without the point. Checked without a regex (~2x faster)."""
    body = pc.ascii_ltrim(text, "+-")
    digits = pc.replace_substring(body, ".", "", max_replacements=1)
    is_number = (_lengths(text) - _lengths(body) <= 1) & as_mask(pc.ascii_is_decimal(digits))
    return is_number, body, digits


def parse_amount(text: Column) -> Amount:
    """Amount texts read exactly, into integer paise."""
    text = pc.fill_null(trimmed(text), "")
    is_number, body, digits = plain_decimals(text)
    body_length = _lengths(body)
    point = np.asarray(pc.find_substring(body, ".").to_numpy(zero_copy_only=False), dtype=np.int64)
    decimals = np.where(is_number & (point >= 0), body_length - point - 1, 0)
    leading_zeros = body_length - _lengths(pc.ascii_ltrim(body, "0"))  # they stop at the point
    whole_digits = np.where(is_number, np.where(point >= 0, point, body_length) - leading_zeros, 0)
    in_range = is_number & (whole_digits <= _MAX_WHOLE_DIGITS)
    return Amount(
        is_number=is_number,
        negative=is_number & as_mask(pc.starts_with(text, "-")),
        whole_digits=whole_digits,
        decimals=decimals,
        paise=_paise(body, digits, in_range, decimals),
    )


def _paise(body: Column, digits: Column, readable: Mask, decimals: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """whole x 100 + the first two decimals where `readable`, else 0. An amount of at most 2
    decimals and 18 digits (every realistic one) is one integer cast of its digits; the others
    are split into whole and fraction."""
    simple = readable & (decimals <= 2) & (_lengths(digits) <= 18)
    units = _ints(pc.if_else(pa.array(simple), digits, "0"))
    paise = np.where(simple, units * 10 ** (2 - np.minimum(decimals, 2)), 0)
    rest = np.flatnonzero(readable & ~simple)
    if len(rest):
        paise[rest] = _split_paise(pc.take(body, pa.array(rest)))
    return paise


def _split_paise(body: Column) -> npt.NDArray[np.int64]:
    """whole x 100 + the first two decimals of unsigned plain decimals with at most 10 whole digits."""
    # "12.5" -> "12.5." -> ["12", "5."]; "12" -> "12." -> ["12", ""]: always a whole and a fraction.
    parts = pc.split_pattern(pc.binary_join_element_wise(body, "", "."), ".", max_splits=1)
    whole = pc.list_element(parts, 0)
    fraction = pc.ascii_rtrim(pc.list_element(parts, 1), ".")
    whole_units = _ints(pc.if_else(pc.equal(whole, ""), "0", whole))
    cents = _ints(pc.utf8_slice_codeunits(pc.utf8_rpad(fraction, 2, "0"), 0, 2))
    return whole_units * 100 + cents


def _lengths(text: Column) -> npt.NDArray[np.int64]:
    return np.asarray(pc.binary_length(text).to_numpy(zero_copy_only=False), dtype=np.int64)


def _ints(digits: Column) -> npt.NDArray[np.int64]:
    return np.asarray(pc.cast(digits, pa.int64()).to_numpy(zero_copy_only=False), dtype=np.int64)


def amount_rule(amount: Amount) -> Codes:
    number = amount.is_number
    too_big = amount.whole_digits > _MAX_WHOLE_DIGITS
    return first_reason(
        flag(~number, "invalid_amount"),
        flag(number & ~too_big & (amount.negative | (amount.paise == 0)), "amount_not_positive"),
        flag(number & (amount.decimals > 2), "amount_too_many_decimals"),
        flag(number & too_big, "amount_out_of_range"),
    )


# --- event time -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class EventWindow:
    """The UTC days whose records a file of day `last` may carry: `first` to `last`, both included."""

    first: date
    last: date

    @classmethod
    def ending(cls, day: date, late_arrival_days: int) -> EventWindow:
        if late_arrival_days < 0:
            raise ValueError(f"late_arrival_days must be 0 or more, not {late_arrival_days}")
        return cls(first=day - timedelta(days=late_arrival_days), last=day)

    @property
    def start_us(self) -> int:
        """First instant of the window, in microseconds since the epoch (UTC)."""
        return (self.first - _EPOCH).days * _US_PER_DAY

    @property
    def end_us(self) -> int:
        """First instant after the window."""
        return ((self.last - _EPOCH).days + 1) * _US_PER_DAY

    def date_keys(self, instants_us: npt.NDArray[np.int64]) -> npt.NDArray[np.int32]:
        """The date key of each instant's UTC day; every instant must lie inside the window."""
        days = (instants_us - self.start_us) // _US_PER_DAY
        span = (self.last - self.first).days + 1
        keys = np.array([date_key(self.first + timedelta(days=i)) for i in range(span)], dtype=np.int32)
        return keys[days]


def parse_timestamps(text: Column) -> pa.Array:
    """ISO 8601 texts as UTC instants (timestamp[us, UTC]); null where not a valid timestamp.

    The contract's shapes are checked by a regex; Arrow's ISO 8601 cast then reads them, ~10x
    faster than pandas. Arrow refuses some shapes that pandas reads (no offset, more than 6
    decimals) and every impossible date: then pandas reads the whole column, row by row."""
    shaped = iso_shaped(text)
    try:
        return pc.cast(shaped, TIMESTAMP_TYPE)
    except pa.ArrowInvalid:
        return timestamps_row_by_row(shaped)


def iso_shaped(text: Column) -> pa.Array:
    """The trimmed texts that have the contract's ISO 8601 shape; null for the others."""
    text = pc.fill_null(trimmed(text), "")
    shaped = pc.if_else(pc.match_substring_regex(text, _ISO_TS), text, None)
    return shaped.combine_chunks() if isinstance(shaped, pa.ChunkedArray) else shaped


def timestamps_row_by_row(shaped: pa.Array) -> pa.Array:
    """`shaped` texts read by pandas, null where a text is no valid timestamp; microseconds,
    truncated towards the past (23:59:59.9999999 stays on its day)."""
    parsed = pd.to_datetime(pd.Series(shaped.to_pandas(), dtype="object"), errors="coerce", utc=True, format="ISO8601")
    return pa.array(parsed.dt.as_unit("us"), TIMESTAMP_TYPE)


def instants_us(timestamps: Column) -> npt.NDArray[np.int64]:
    """Microseconds since the epoch (UTC); 0 where null."""
    return np.asarray(pc.fill_null(pc.cast(timestamps, pa.int64()), 0).to_numpy(zero_copy_only=False))


def timestamp_rule(timestamps: Column, window: EventWindow) -> Codes:
    """`timestamps` as parse_timestamps returns them: a record belongs to its UTC day, which must
    be the file's day or one of the late-arrival days before it."""
    valid = as_mask(pc.is_valid(timestamps))
    instants = instants_us(timestamps)
    return first_reason(
        flag(~valid, "invalid_timestamp"),
        flag(valid & (instants < window.start_us), "too_late"),
        flag(valid & (instants >= window.end_us), "timestamp_outside_day"),
    )


# --- processing time ------------------------------------------------------------------------------


def parse_seconds(text: Column) -> npt.NDArray[np.float64]:
    """Plain decimal texts as floats; NaN where not a plain number."""
    text = pc.fill_null(trimmed(text), "")
    is_number, _, _ = plain_decimals(text)
    seconds = pc.cast(pc.if_else(pa.array(is_number), text, "NaN"), pa.float64())
    return np.asarray(seconds.to_numpy(zero_copy_only=False), dtype=np.float64)


def processing_time_rule(seconds: npt.NDArray[np.float64]) -> Codes:
    """`seconds` as parse_seconds returns them, checked as stored (3 decimals): 999999.9996 would
    round to 1,000,000.000."""
    with np.errstate(invalid="ignore"):
        bad = ~(seconds >= 0) | (np.round(seconds, 3) >= MAX_PROCESSING_TIME_S)
    return flag(bad, "invalid_processing_time")

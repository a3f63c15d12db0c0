"""flows/rules.py: each field rule as a table of input value(s) -> reason (None where it passes).

The rules take columns as the transform hands them over (trimmed, parsed); each case here runs
one value through the same parsing, so a row reads as "this text in a file gives this reason".
clean_transactions' own tests (test_transform.py) cover the order in which rules apply.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flows.rules import (
    CODES,
    REASONS,
    Codes,
    EventWindow,
    amount_rule,
    channel_positions,
    channel_rule,
    customer_rule,
    first_reason,
    iso_shaped,
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
    timestamps_row_by_row,
    transaction_id_rule,
    trimmed,
)

DAY = date(2024, 3, 5)
WEEK = EventWindow.ending(DAY, 7)  # 2024-02-27 .. 2024-03-05


def texts(*values: str | None) -> pa.Array:
    return pa.array(values, pa.string())


def verdict(codes: Codes) -> str | None:
    """The reason of a one-record verdict."""
    (reason,) = reason_names(codes).to_pylist()
    return reason


@pytest.mark.parametrize(
    "value, reason",
    [
        ("TXN-1", None),
        (" TXN-1 ", None),
        ("", "missing_transaction_id"),
        ("   ", "missing_transaction_id"),
        (None, "missing_transaction_id"),
    ],
)
def test_transaction_id_rule(value: str | None, reason: str | None) -> None:
    assert verdict(transaction_id_rule(trimmed(texts(value)))) == reason


AMOUNTS = [
    ("250.00", None),
    ("10", None),
    ("+5", None),
    (".5", None),
    ("5.", None),
    (" 12.5 ", None),
    ("0.01", None),
    ("007.00", None),
    ("9999999999.99", None),
    ("0000000000012.34", None),
    ("abc", "invalid_amount"),
    ("1,000.00", "invalid_amount"),
    ("1e3", "invalid_amount"),
    ("12.5.1", "invalid_amount"),
    ("₹500", "invalid_amount"),
    ("NaN", "invalid_amount"),
    (".", "invalid_amount"),
    ("", "invalid_amount"),
    (None, "invalid_amount"),
    ("0", "amount_not_positive"),
    ("0.00", "amount_not_positive"),
    ("-0.00", "amount_not_positive"),
    ("-12.50", "amount_not_positive"),
    ("0.001", "amount_not_positive"),  # zero paise: not positive comes before too many decimals
    ("-1.999", "amount_not_positive"),
    ("10.005", "amount_too_many_decimals"),
    ("1.999", "amount_too_many_decimals"),
    ("9999999999.999", "amount_too_many_decimals"),
    ("10000000000", "amount_out_of_range"),
    ("10000000000.00", "amount_out_of_range"),
    ("-10000000000", "amount_out_of_range"),  # out of range comes before not positive
    ("123456789012345678901234567890", "amount_out_of_range"),
    ("10000000000.001", "amount_too_many_decimals"),
]


@pytest.mark.parametrize("text, reason", AMOUNTS)
def test_amount_rule(text: str | None, reason: str | None) -> None:
    assert verdict(amount_rule(parse_amount(texts(text)))) == reason


def _reference_amount(text: str) -> tuple[str | None, int]:
    """The amount rules written plainly, for the property test: (reason, paise when accepted)."""
    if not re.fullmatch(r"[+-]?(\d+(\.\d*)?|\.\d+)", text, flags=re.ASCII):
        return "invalid_amount", 0
    whole, _, fraction = text.lstrip("+-").partition(".")
    too_big = len(whole.lstrip("0")) > 10
    paise = int(whole or "0") * 100 + int((fraction + "00")[:2])
    if not too_big and (text.startswith("-") or paise == 0):
        return "amount_not_positive", 0
    if len(fraction) > 2:
        return "amount_too_many_decimals", 0
    return ("amount_out_of_range", 0) if too_big else (None, paise)


_AMOUNT_TEXTS = st.one_of(
    st.text("0123456789.+-", max_size=25),
    st.tuples(
        st.sampled_from(["", "+", "-"]),
        st.text("0", max_size=25),
        st.text("0123456789", max_size=14),
        st.sampled_from(["", "."]),
        st.text("0123456789", max_size=25),
    ).map("".join),
)


@settings(max_examples=500, deadline=None)
@given(texts_=st.lists(_AMOUNT_TEXTS, min_size=1, max_size=20))
def test_amounts_follow_the_rules_written_plainly(texts_: list[str]) -> None:
    """A column mixes both ways of reading (one integer cast, or whole and fraction apart)."""
    amount = parse_amount(texts(*texts_))
    reasons = reason_names(amount_rule(amount)).to_pylist()
    for text, reason, paise in zip(texts_, reasons, amount.paise.tolist(), strict=True):
        expected_reason, expected_paise = _reference_amount(text)
        assert reason == expected_reason, text
        if reason is None:
            assert paise == expected_paise, text


@pytest.mark.parametrize(
    "text, paise",
    [
        ("10", 1000),
        ("+5", 500),
        (".5", 50),
        ("10.", 1000),
        ("0.1", 10),
        (" 12.5 ", 1250),
        ("007.00", 700),
        ("0000000000012.34", 1234),
        ("9999999999.99", 999_999_999_999),
        ("1.999", 199),  # the first two decimals (the row is rejected for the third)
        ("abc", 0),
        ("10000000000", 0),  # out of range: not read
    ],
)
def test_amounts_are_read_exactly_into_paise(text: str, paise: int) -> None:
    assert parse_amount(texts(text)).paise.tolist() == [paise]


@pytest.mark.parametrize(
    "text, reason",
    [
        ("SUCCESS", None),
        (" success ", None),
        ("FAILED\t", None),
        ("FaIlEd", None),
        ("PENDING", "unknown_status"),
        ("COMPLETED", "unknown_status"),
        ("", "unknown_status"),
        (None, "unknown_status"),
    ],
)
def test_status_rule(text: str | None, reason: str | None) -> None:
    assert verdict(status_rule(normalised_status(texts(text)))) == reason


@pytest.mark.parametrize(
    "text, reason",
    [
        ("UPI", None),
        (" Net Banking ", None),
        ("Credit Card", None),
        ("Debit Card", None),
        ("upi", "unknown_channel"),
        ("Cash", "unknown_channel"),
        ("", "unknown_channel"),
        (None, "unknown_channel"),
    ],
)
def test_channel_rule(text: str | None, reason: str | None) -> None:
    assert verdict(channel_rule(channel_positions(pc.fill_null(trimmed(texts(text)), "")))) == reason


TIMESTAMPS = [
    # inside the file's day
    ("2024-03-05T00:00:00Z", None),
    ("2024-03-05T23:59:59.999999Z", None),
    ("2024-03-05T23:59:59.9999999Z", None),  # 7 decimals: truncated to the microsecond, same day
    ("2024-03-05T10:00:00", None),  # no offset = UTC
    ("2024-03-05 10:00", None),
    ("2024-03-06T01:00:00+02:00", None),  # 23:00 UTC on the day
    # late: an earlier day of the window, accepted into its own day
    ("2024-03-04T23:59:59Z", None),
    ("2024-03-05T03:00:00+05:30", None),  # 21:30 UTC the day before
    ("2024-02-27T00:00:00Z", None),  # first instant of the 7-day window
    ("2024-02-27T05:00:00+05:30", "too_late"),  # 23:30 UTC on 02-26
    ("2024-02-26T23:59:59.999999Z", "too_late"),
    ("2023-03-05T10:00:00Z", "too_late"),
    # after the file's day
    ("2024-03-06T00:00:00Z", "timestamp_outside_day"),
    ("2024-03-05T22:30:00-02:00", "timestamp_outside_day"),  # 00:30 UTC the next day
    ("2025-01-01T00:00:00Z", "timestamp_outside_day"),
    # not a timestamp
    ("yesterday", "invalid_timestamp"),
    ("2024-02-30T10:00:00Z", "invalid_timestamp"),
    ("05/03/2024 10:00", "invalid_timestamp"),
    ("2024-03-05", "invalid_timestamp"),  # a date alone is not a timestamp
    ("2024-03-05T10:00:60Z", "invalid_timestamp"),
    ("", "invalid_timestamp"),
    (None, "invalid_timestamp"),
]


@pytest.mark.parametrize("text, reason", TIMESTAMPS)
def test_timestamp_rule_with_a_week_of_late_arrivals(text: str | None, reason: str | None) -> None:
    assert verdict(timestamp_rule(parse_timestamps(texts(text)), WEEK)) == reason


@pytest.mark.parametrize(
    "text, reason",
    [
        ("2024-03-05T00:00:00Z", None),
        ("2024-03-04T23:59:59Z", "too_late"),
        ("2024-03-06T00:00:00Z", "timestamp_outside_day"),
    ],
)
def test_timestamp_rule_without_late_arrivals(text: str, reason: str | None) -> None:
    assert verdict(timestamp_rule(parse_timestamps(texts(text)), EventWindow.ending(DAY, 0))) == reason


def test_a_column_of_timestamps_is_judged_row_by_row_whichever_parser_reads_it() -> None:
    """One text that only pandas reads (no offset) sends the whole column to pandas: same verdicts."""
    zoned = ["2024-03-05T10:00:00Z", "2024-03-04T10:00:00+05:30", "2024-02-01T00:00:00Z", "2024-03-07T00:00:00Z"]
    expected = [None, None, "too_late", "timestamp_outside_day"]
    for extra, extra_reason in [
        (None, "invalid_timestamp"),
        ("2024-03-05T10:00:00", None),
        ("2024-13-01T00:00Z", "invalid_timestamp"),
    ]:
        column = texts(*zoned, extra)
        assert reason_names(timestamp_rule(parse_timestamps(column), WEEK)).to_pylist() == [*expected, extra_reason]


def test_the_window_must_not_be_negative() -> None:
    with pytest.raises(ValueError, match="0 or more"):
        EventWindow.ending(DAY, -1)


@pytest.mark.parametrize(
    "text, utc",
    [
        ("2024-03-05T10:00:00Z", datetime(2024, 3, 5, 10, 0, tzinfo=UTC)),
        ("2024-03-05T10:00:00+0530", datetime(2024, 3, 5, 4, 30, tzinfo=UTC)),
        ("2024-03-04T22:00:00-03:00", datetime(2024, 3, 5, 1, 0, tzinfo=UTC)),
        ("2024-03-05T10:00:00.123456Z", datetime(2024, 3, 5, 10, 0, 0, 123456, tzinfo=UTC)),
        ("2024-03-05T10:00:00.123456789Z", datetime(2024, 3, 5, 10, 0, 0, 123456, tzinfo=UTC)),
    ],
)
def test_timestamps_become_utc_instants(text: str, utc: datetime) -> None:
    assert parse_timestamps(texts(text)).to_pylist() == [utc]


def _iso_texts() -> st.SearchStrategy[str]:
    """Texts of the contract's ISO 8601 shape, valid or not (month 19, second 69, offset 29:99...)."""

    def digits(n: int) -> st.SearchStrategy[str]:
        return st.text("0123456789", min_size=n, max_size=n)

    fraction = st.one_of(st.just(""), st.integers(1, 9).flatmap(lambda n: digits(n).map(lambda d: "." + d)))
    seconds = st.one_of(st.just(""), st.tuples(digits(2), fraction).map(lambda p: ":" + "".join(p)))
    offset = st.one_of(
        st.just(""),
        st.just("Z"),
        st.tuples(st.sampled_from("+-"), digits(2), st.sampled_from(["", ":"]), digits(2)).map("".join),
    )
    year = st.one_of(st.sampled_from(["2024", "1970", "0001", "9999", "0000"]), digits(4))
    month = st.one_of(st.sampled_from(["01", "02", "12"]), digits(2))
    day = st.one_of(st.sampled_from(["01", "28", "29", "30", "31"]), digits(2))
    hour = st.one_of(st.sampled_from(["00", "23", "24"]), digits(2))
    parts = st.tuples(year, month, day, st.sampled_from("T "), hour, digits(2), seconds, offset)
    return parts.map(lambda p: f"{p[0]}-{p[1]}-{p[2]}{p[3]}{p[4]}:{p[5]}{p[6]}{p[7]}")


@settings(max_examples=400, deadline=None)
@given(text=_iso_texts())
def test_arrow_reads_a_timestamp_as_pandas_does_or_refuses_it(text: str) -> None:
    """Arrow's fast cast may only read a text when pandas reads it to the same instant."""
    shaped = iso_shaped(texts(text))
    assert shaped.null_count == 0, "the strategy generates the contract's shapes only"
    try:
        fast = pc.cast(shaped, pa.timestamp("us", tz="UTC"))
    except pa.ArrowInvalid:
        return
    assert fast.equals(timestamps_row_by_row(shaped))


def test_date_keys_are_each_instants_own_utc_day() -> None:
    instants = parse_timestamps(texts("2024-02-27T00:00:00Z", "2024-03-04T23:59:59.999999Z", "2024-03-05T12:00:00Z"))
    micros = np.asarray(pc.cast(instants, pa.int64()).to_numpy())
    assert WEEK.date_keys(micros).tolist() == [20240227, 20240304, 20240305]


@pytest.mark.parametrize(
    "value, reason",
    [
        ("CUST-1", None),
        (" CUST-1 ", None),
        ("", "missing_customer_id"),
        (" ", "missing_customer_id"),
        (None, "missing_customer_id"),
    ],
)
def test_customer_rule(value: str | None, reason: str | None) -> None:
    assert verdict(customer_rule(trimmed(texts(value)))) == reason


@pytest.mark.parametrize(
    "city, state, reason",
    [
        ("Pune", "Maharashtra", None),
        ("Port Blair", "Andaman and Nicobar Islands", None),  # unknown states are kept (region Unknown)
        ("", "Maharashtra", "missing_city"),
        ("Pune", None, "missing_city"),
        ("  ", " ", "missing_city"),
    ],
)
def test_location_rule(city: str | None, state: str | None, reason: str | None) -> None:
    assert verdict(location_rule(trimmed(texts(city)), trimmed(texts(state)))) == reason


FITS = {"transaction_id": "T", "customer_id": "C", "city": "Pune", "state": "Maharashtra"}


@pytest.mark.parametrize(
    "field, value, reason",
    [
        ("transaction_id", "T" * 64, None),
        ("transaction_id", "T" * 65, "value_too_long"),
        ("customer_id", "C" * 50, None),
        ("customer_id", "C" * 51, "value_too_long"),
        ("city", "P" * 100, None),
        ("city", "P" * 101, "value_too_long"),
        ("state", "M" * 101, "value_too_long"),
        ("city", "é" * 100, None),  # 200 bytes, 100 characters: the limit counts characters
        ("city", "é" * 101, "value_too_long"),
        ("customer_id", "🙂" * 50, None),
        ("customer_id", "🙂" * 51, "value_too_long"),
        ("city", None, None),  # missing is missing_city's verdict, not this rule's
    ],
)
def test_length_rule(field: str, value: str | None, reason: str | None) -> None:
    values = {name: texts(value if name == field else FITS[name]) for name in FITS}
    assert verdict(length_rule(values)) == reason


@pytest.mark.parametrize(
    "text, reason",
    [
        ("1.250", None),
        ("0", None),
        ("+3", None),
        (".5", None),
        ("999999.999", None),
        ("-1", "invalid_processing_time"),
        ("slow", "invalid_processing_time"),
        ("1e3", "invalid_processing_time"),
        ("NaN", "invalid_processing_time"),
        ("", "invalid_processing_time"),
        (None, "invalid_processing_time"),
        ("1000000", "invalid_processing_time"),
        ("999999.9996", "invalid_processing_time"),  # stored with 3 decimals it would be 1,000,000.000
    ],
)
def test_processing_time_rule(text: str | None, reason: str | None) -> None:
    assert verdict(processing_time_rule(parse_seconds(texts(text)))) == reason


def code(reason: str | None) -> Codes:
    return np.array([0 if reason is None else CODES[reason]], dtype=np.uint8)


@pytest.mark.parametrize(
    "verdicts, reason",
    [
        ([None, None], None),
        ([None, "unknown_status"], "unknown_status"),
        (["invalid_amount", "unknown_status"], "invalid_amount"),
        ([None, "too_late", "missing_city"], "too_late"),
    ],
)
def test_first_reason_is_the_first_rule_broken(verdicts: list[str | None], reason: str | None) -> None:
    assert verdict(first_reason(*(code(v) for v in verdicts))) == reason


def test_every_reason_has_a_code_and_back() -> None:
    assert reason_names(np.array(list(CODES.values()), dtype=np.uint8)).to_pylist() == list(REASONS)

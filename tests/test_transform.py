"""clean_transactions: every quarantine rule, event time, the delay buckets, exact money, dedupe,
accounting.

Each test builds a few raw records (text, as the ingest step hands them over) from a good
default row, cleans them as the file of DAY with a week of late arrivals (the product's default)
and checks what a user sees: the accepted rows and their day, the reason each rejected row
carries, and that received = processed + quarantined + duplicates. tests/test_rules.py tables
each rule on its own.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal

import pyarrow as pa
import pytest

from flows.contract import PROCESSED_SCHEMA, QUARANTINE_SCHEMA, RAW_COLUMNS
from flows.ingest import MALFORMED_SCHEMA
from flows.reference import CHANNELS
from flows.transform import REASONS, CleanResult, clean_transactions, processing_delay_bucket

DAY = date(2024, 3, 5)  # a Tuesday
LATE_DAYS = 7  # the file of DAY accepts records of 2024-02-27 to 2024-03-05 (UTC)

GOOD = {
    "transaction_id": "TXN-1",
    "transaction_ts": "2024-03-05T10:15:00Z",
    "customer_id": "CUST-000001",
    "city": "Pune",
    "state": "Maharashtra",
    "channel": "UPI",
    "amount": "250.00",
    "status": "SUCCESS",
    "processing_time_s": "1.250",
}


def records(*rows: dict[str, str | None], source_file: str = "transactions.csv") -> pa.Table:
    """Raw records as the ingest step returns them: contract columns as text + source_file/row."""
    full = [{**GOOD, "transaction_id": f"TXN-{i + 1}", **row} for i, row in enumerate(rows)]
    table = pa.table({c: pa.array([r[c] for r in full], pa.string()) for c in RAW_COLUMNS})
    n = table.num_rows
    return table.append_column("source_file", pa.array([source_file] * n, pa.string())).append_column(
        "source_row", pa.array(range(1, n + 1), pa.int64())
    )


def malformed(*texts: str, first_row: int = 1) -> pa.Table:
    return pa.Table.from_pylist(
        [
            {
                "source_file": "transactions.csv",
                "source_row": first_row + i,
                "raw_text": t,
                "reason": "malformed_record",
            }
            for i, t in enumerate(texts)
        ],
        schema=MALFORMED_SCHEMA,
    )


def clean(
    *rows: dict[str, str | None], bad: pa.Table | None = None, day: date = DAY, late_days: int = LATE_DAYS
) -> CleanResult:
    malformed_records = bad if bad is not None else MALFORMED_SCHEMA.empty_table()
    result = clean_transactions(records(*rows), malformed_records, day, late_arrival_days=late_days)
    assert_reconciles(result)
    return result


def assert_reconciles(result: CleanResult) -> None:
    assert result.rows_received == (result.processed.num_rows + result.rejected.num_rows + result.duplicates_dropped), (
        "rows received != processed + quarantined + duplicates"
    )
    assert result.reconciles


def reasons(result: CleanResult) -> list[str]:
    return result.rejected.column("reject_reason").to_pylist()


# --- every field rule: one bad row (plus a good one) -> exactly that reason ------------------

FIELD_RULES = [
    ("missing_transaction_id", {"transaction_id": ""}),
    ("missing_transaction_id", {"transaction_id": None}),
    ("missing_transaction_id", {"transaction_id": "   "}),
    ("invalid_amount", {"amount": "abc"}),
    ("invalid_amount", {"amount": "1,000.00"}),
    ("invalid_amount", {"amount": "1e3"}),
    ("invalid_amount", {"amount": "12.5.1"}),
    ("invalid_amount", {"amount": "₹500"}),
    ("invalid_amount", {"amount": "NaN"}),
    ("invalid_amount", {"amount": ""}),
    ("invalid_amount", {"amount": None}),
    ("amount_not_positive", {"amount": "0"}),
    ("amount_not_positive", {"amount": "0.00"}),
    ("amount_not_positive", {"amount": "-0.00"}),
    ("amount_not_positive", {"amount": "-12.50"}),
    ("amount_too_many_decimals", {"amount": "10.005"}),
    ("amount_too_many_decimals", {"amount": "1.999"}),
    ("amount_out_of_range", {"amount": "10000000000"}),
    ("amount_out_of_range", {"amount": "10000000000.00"}),
    ("amount_out_of_range", {"amount": "123456789012345678901234567890"}),
    ("unknown_status", {"status": "PENDING"}),
    ("unknown_status", {"status": "COMPLETED"}),
    ("unknown_status", {"status": ""}),
    ("unknown_status", {"status": None}),
    ("unknown_channel", {"channel": "Cash"}),
    ("unknown_channel", {"channel": "upi"}),
    ("unknown_channel", {"channel": ""}),
    ("invalid_timestamp", {"transaction_ts": "yesterday"}),
    ("invalid_timestamp", {"transaction_ts": "2024-02-30T10:00:00Z"}),
    ("invalid_timestamp", {"transaction_ts": "05/03/2024 10:00"}),
    ("invalid_timestamp", {"transaction_ts": ""}),
    ("timestamp_outside_day", {"transaction_ts": "2024-03-06T00:00:00Z"}),
    ("timestamp_outside_day", {"transaction_ts": "2024-03-05T22:30:00-02:00"}),  # 00:30 UTC next day
    ("too_late", {"transaction_ts": "2024-02-26T23:59:59Z"}),  # the day before the window
    ("too_late", {"transaction_ts": "2024-02-27T03:00:00+05:30"}),  # 21:30 UTC on 02-26
    ("too_late", {"transaction_ts": "2023-03-05T10:00:00Z"}),
    ("missing_customer_id", {"customer_id": ""}),
    ("missing_customer_id", {"customer_id": " "}),
    ("missing_city", {"city": ""}),
    ("missing_city", {"state": None}),
    ("invalid_processing_time", {"processing_time_s": "-1"}),
    ("invalid_processing_time", {"processing_time_s": "slow"}),
    ("invalid_processing_time", {"processing_time_s": ""}),
    ("invalid_processing_time", {"processing_time_s": "1000000"}),
    ("invalid_processing_time", {"processing_time_s": "999999.9996"}),  # rounds to 1,000,000.000
    ("value_too_long", {"transaction_id": "T" * 65}),
    ("value_too_long", {"customer_id": "C" * 51}),
    ("value_too_long", {"city": "P" * 101}),
    ("value_too_long", {"state": "M" * 101}),
]


@pytest.mark.parametrize("reason, bad_fields", FIELD_RULES, ids=[f"{r}-{i}" for i, (r, _) in enumerate(FIELD_RULES)])
def test_a_row_breaking_a_field_rule_is_quarantined_with_its_reason(reason: str, bad_fields: dict) -> None:
    result = clean({}, bad_fields)
    assert reasons(result) == [reason]
    assert result.processed.column("transaction_id").to_pylist() == ["TXN-1"]
    rejected = result.rejected.to_pylist()[0]
    assert rejected["source_row"] == 2 and rejected["source_file"] == "transactions.csv"
    for field, value in bad_fields.items():
        assert rejected[field] == value, "quarantine keeps the original text"


@pytest.mark.parametrize(
    "edge_fields",
    [
        {"transaction_id": "T" * 64},
        {"customer_id": "C" * 50},
        {"city": "P" * 100, "state": "M" * 100},
        {"amount": "9999999999.99"},
        {"amount": "0.01"},
        {"processing_time_s": "999999.999"},
        {"processing_time_s": "0"},
        {"transaction_ts": "2024-03-05T00:00:00Z"},
        {"transaction_ts": "2024-03-05T23:59:59.999999Z"},
        {"transaction_ts": "2024-02-27T00:00:00Z"},  # the first instant of the late window
    ],
)
def test_values_at_the_edge_of_a_rule_are_accepted(edge_fields: dict) -> None:
    result = clean(edge_fields)
    assert reasons(result) == []
    assert result.processed.num_rows == 1


def test_the_first_rule_broken_is_the_reason() -> None:
    result = clean({"transaction_id": "", "amount": "abc", "status": "??"})
    assert reasons(result) == ["missing_transaction_id"]


def test_malformed_records_are_quarantined_with_their_raw_text() -> None:
    result = clean({}, bad=malformed("a,b,c", "x,y,z,1,2,3,4,5,6,7,8", first_row=2))
    assert result.rows_received == 3
    rows = result.rejected.to_pylist()
    assert [r["reject_reason"] for r in rows] == ["malformed_record", "malformed_record"]
    assert [r["transaction_id"] for r in rows] == ["a,b,c", "x,y,z,1,2,3,4,5,6,7,8"]
    assert [r["source_row"] for r in rows] == [2, 3]


def test_every_reason_code_has_a_test() -> None:
    tested = {r for r, _ in FIELD_RULES} | {"malformed_record", "duplicate_transaction_id"}
    assert tested == set(REASONS)


# --- processing_delay_bucket thresholds --------------------------------------------------------

BUCKETS = [
    ("0", "fast"),
    ("1.999", "fast"),
    ("2.0", "medium"),
    ("2", "medium"),
    ("4.999", "medium"),
    ("5.0", "slow"),
    ("120", "slow"),
    ("1.9996", "medium"),  # stored with 3 decimals (2.000), bucketed as stored
]


@pytest.mark.parametrize("seconds, bucket", BUCKETS)
def test_processing_delay_bucket(seconds: str, bucket: str) -> None:
    result = clean({"processing_time_s": seconds})
    assert result.processed.column("processing_delay_bucket").to_pylist() == [bucket]


@pytest.mark.parametrize(
    "seconds, bucket", [(0.0, "fast"), (1.999, "fast"), (2.0, "medium"), (4.999, "medium"), (5.0, "slow")]
)
def test_bucket_function_thresholds(seconds: float, bucket: str) -> None:
    assert processing_delay_bucket(pa.array([seconds])).to_pylist() == [bucket]


# --- money: exact decimals, revenue rounded half up at the paisa -------------------------------

REVENUE = [
    # channel, amount, status, fee_percent, revenue (worked by hand)
    ("Credit Card", "0.25", "SUCCESS", "2.00", "0.01"),  # 0.005 -> 0.01 (half up; half-even would give 0.00)
    ("Credit Card", "1.25", "SUCCESS", "2.00", "0.03"),  # 0.025 -> 0.03 (half-even would give 0.02)
    ("Credit Card", "0.24", "SUCCESS", "2.00", "0.00"),  # 0.0048
    ("Credit Card", "9999999999.99", "SUCCESS", "2.00", "200000000.00"),  # 199999999.9998
    ("Debit Card", "0.50", "SUCCESS", "1.00", "0.01"),  # 0.005
    ("Debit Card", "0.49", "SUCCESS", "1.00", "0.00"),  # 0.0049
    ("UPI", "1.00", "SUCCESS", "0.50", "0.01"),  # 0.005
    ("UPI", "0.99", "SUCCESS", "0.50", "0.00"),  # 0.00495
    ("UPI", "350.10", "SUCCESS", "0.50", "1.75"),  # 1.7505
    ("Net Banking", "12345.67", "SUCCESS", "1.50", "185.19"),  # 185.18505
    ("Net Banking", "0.30", "SUCCESS", "1.50", "0.00"),  # 0.0045
    ("Net Banking", "0.70", "SUCCESS", "1.50", "0.01"),  # 0.0105
    ("Credit Card", "2400.00", "FAILED", "2.00", "0.00"),  # failed transactions earn nothing
    ("UPI", "1.00", "FAILED", "0.50", "0.00"),
]


@pytest.mark.parametrize("channel, amount, status, fee, revenue", REVENUE)
def test_revenue_is_exact_and_rounded_half_up(channel: str, amount: str, status: str, fee: str, revenue: str) -> None:
    row = clean({"channel": channel, "amount": amount, "status": status}).processed.to_pylist()[0]
    assert row["amount"] == Decimal(amount)
    assert row["fee_percent"] == Decimal(fee)
    assert row["revenue"] == Decimal(revenue)
    assert row["channel_key"] == CHANNELS[channel][0]


@pytest.mark.parametrize("channel", list(CHANNELS))
def test_revenue_matches_decimal_arithmetic_for_many_amounts(channel: str) -> None:
    rng = random.Random(7)
    amounts = [f"{rng.randrange(1, 10 ** rng.randint(1, 12)) / 100:.2f}" for _ in range(2000)]
    amounts = [a for a in amounts if Decimal(a) > 0]
    result = clean(*({"channel": channel, "amount": a} for a in amounts))
    fee = CHANNELS[channel][1]
    expected = [(Decimal(a) * fee / 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP) for a in amounts]
    assert result.processed.column("revenue").to_pylist() == expected
    assert result.processed.column("amount").to_pylist() == [Decimal(a) for a in amounts]


@pytest.mark.parametrize(
    "text, amount",
    [
        ("10", "10.00"),
        ("+5", "5.00"),
        (".5", "0.50"),
        ("10.", "10.00"),
        ("0.1", "0.10"),
        (" 12.5 ", "12.50"),
        ("007.00", "7.00"),
        ("0000000000012.34", "12.34"),
    ],
)
def test_amount_text_forms_parse_exactly(text: str, amount: str) -> None:
    assert clean({"amount": text}).processed.column("amount").to_pylist() == [Decimal(amount)]


# --- duplicates ----------------------------------------------------------------------------------


def test_exact_duplicates_are_dropped_and_counted() -> None:
    result = clean({"transaction_id": "A"}, {"transaction_id": "A"}, {"transaction_id": "B"}, {"transaction_id": "A"})
    assert result.duplicates_dropped == 2
    assert result.processed.column("transaction_id").to_pylist() == ["A", "B"]
    assert result.processed.column("source_row").to_pylist() == [1, 3], "the first copy is kept"
    assert reasons(result) == []


def test_exact_duplicates_of_a_bad_row_are_dropped_once_and_quarantined_once() -> None:
    result = clean({"transaction_id": "A", "amount": "x"}, {"transaction_id": "A", "amount": "x"})
    assert result.duplicates_dropped == 1
    assert reasons(result) == ["invalid_amount"]


@pytest.mark.parametrize(
    "versions, winner_amount, quarantined",
    [
        # same id, different content: the last VALID record in file order wins
        ([{"amount": "10.00"}, {"amount": "20.00"}], "20.00", [(1, "duplicate_transaction_id")]),
        (
            [{"amount": "10.00"}, {"amount": "20.00"}, {"amount": "30.00"}],
            "30.00",
            [(1, "duplicate_transaction_id"), (2, "duplicate_transaction_id")],
        ),
        ([{"amount": "10.00"}, {"amount": "-20.00"}], "10.00", [(2, "amount_not_positive")]),
        (
            [{"amount": "10.00", "status": "SUCCESS"}, {"amount": "10.00", "status": " success "}],
            "10.00",
            [(1, "duplicate_transaction_id")],
        ),
    ],
)
def test_repeated_transaction_id_last_valid_record_wins(
    versions: list[dict], winner_amount: str, quarantined: list[tuple[int, str]]
) -> None:
    result = clean(*({"transaction_id": "T-9", **v} for v in versions))
    assert result.processed.column("transaction_id").to_pylist() == ["T-9"]
    assert result.processed.column("amount").to_pylist() == [Decimal(winner_amount)]
    got = sorted(zip(result.rejected.column("source_row").to_pylist(), reasons(result), strict=True))
    assert got == quarantined
    assert result.duplicates_dropped == 0


def test_ids_that_differ_only_by_surrounding_blanks_are_the_same_transaction() -> None:
    result = clean({"transaction_id": "T-1", "amount": "1.00"}, {"transaction_id": " T-1 ", "amount": "2.00"})
    assert result.processed.column("transaction_id").to_pylist() == ["T-1"]
    assert result.processed.column("amount").to_pylist() == [Decimal("2.00")]
    assert reasons(result) == ["duplicate_transaction_id"]


# --- normalisation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, status",
    [
        ("SUCCESS", "SUCCESS"),
        ("success", "SUCCESS"),
        (" Success ", "SUCCESS"),
        ("failed", "FAILED"),
        ("FAILED\t", "FAILED"),
        (" FaIlEd", "FAILED"),
    ],
)
def test_status_case_and_blanks_are_normalised(text: str, status: str) -> None:
    assert clean({"status": text}).processed.column("status").to_pylist() == [status]


@pytest.mark.parametrize(
    "text, utc",
    [
        ("2024-03-05T10:00:00Z", datetime(2024, 3, 5, 10, 0, tzinfo=UTC)),
        ("2024-03-05T10:00:00", datetime(2024, 3, 5, 10, 0, tzinfo=UTC)),  # no offset = UTC
        ("2024-03-05 10:00", datetime(2024, 3, 5, 10, 0, tzinfo=UTC)),
        ("2024-03-05T10:00:00+05:30", datetime(2024, 3, 5, 4, 30, tzinfo=UTC)),
        ("2024-03-05T10:00:00+0530", datetime(2024, 3, 5, 4, 30, tzinfo=UTC)),
        ("2024-03-06T01:00:00+02:00", datetime(2024, 3, 5, 23, 0, tzinfo=UTC)),
        ("2024-03-04T22:00:00-03:00", datetime(2024, 3, 5, 1, 0, tzinfo=UTC)),
        ("2024-03-05T10:00:00.123456Z", datetime(2024, 3, 5, 10, 0, 0, 123456, tzinfo=UTC)),
    ],
)
def test_timestamps_with_offsets_are_converted_to_utc_and_kept_when_inside_the_day(text: str, utc: datetime) -> None:
    assert clean({"transaction_ts": text}).processed.column("transaction_ts").to_pylist() == [utc]


def test_a_mix_of_offsets_in_one_file_is_handled_row_by_row() -> None:
    result = clean(
        {"transaction_ts": "2024-03-05T10:00:00"},
        {"transaction_ts": "2024-03-05T10:00:00+05:30"},
        {"transaction_ts": "2024-03-05T23:30:00-01:00"},
    )
    assert result.processed.num_rows == 2
    assert reasons(result) == ["timestamp_outside_day"]


# --- event time: each record in its own UTC day ----------------------------------------------------


@pytest.mark.parametrize(
    "text, date_key",
    [
        ("2024-03-05T10:00:00Z", 20240305),
        ("2024-03-05T03:00:00+05:30", 20240304),  # 21:30 UTC the day before: a late arrival
        ("2024-03-04T23:59:59Z", 20240304),
        ("2024-03-01T12:00:00Z", 20240301),
        ("2024-02-29T12:00:00Z", 20240229),
        ("2024-02-27T00:00:00Z", 20240227),
        ("2024-03-06T01:00:00+02:00", 20240305),  # 23:00 UTC on the day
    ],
)
def test_an_accepted_record_is_keyed_by_its_own_utc_day(text: str, date_key: int) -> None:
    result = clean({"transaction_ts": text})
    assert result.processed.column("date_key").to_pylist() == [date_key]
    assert result.rows_late == (date_key < 20240305)
    assert result.run_date == DAY, "the result stays the file's day"


def test_late_records_are_loaded_not_quarantined_and_counted() -> None:
    result = clean(
        {"transaction_ts": "2024-03-05T10:00:00Z"},
        {"transaction_ts": "2024-03-04T10:00:00Z"},
        {"transaction_ts": "2024-02-28T10:00:00Z"},
        {"transaction_ts": "2024-02-20T10:00:00Z"},  # beyond the window
        {"transaction_ts": "2024-03-06T10:00:00Z"},  # after the file's day
    )
    assert result.processed.column("date_key").to_pylist() == [20240305, 20240304, 20240228]
    assert result.rows_late == 2
    assert result.quarantine_reasons == {"timestamp_outside_day": 1, "too_late": 1}


@pytest.mark.parametrize(
    "late_days, loaded, quarantined",
    [
        (0, ["TODAY"], {"too_late": 3}),
        (1, ["TODAY", "YESTERDAY"], {"too_late": 2}),
        (6, ["TODAY", "YESTERDAY"], {"too_late": 2}),
        (7, ["TODAY", "YESTERDAY", "WEEK"], {"too_late": 1}),
        (30, ["TODAY", "YESTERDAY", "WEEK", "MONTH"], {}),
    ],
)
def test_the_late_window_decides_which_earlier_days_a_file_may_carry(
    late_days: int, loaded: list[str], quarantined: dict[str, int]
) -> None:
    result = clean(
        {"transaction_id": "TODAY", "transaction_ts": "2024-03-05T00:00:00Z"},
        {"transaction_id": "YESTERDAY", "transaction_ts": "2024-03-04T23:59:59Z"},
        {"transaction_id": "WEEK", "transaction_ts": "2024-02-27T00:00:00Z"},
        {"transaction_id": "MONTH", "transaction_ts": "2024-02-05T00:00:00Z"},
        late_days=late_days,
    )
    assert result.processed.column("transaction_id").to_pylist() == loaded
    assert result.rows_late == len(loaded) - 1
    assert result.quarantine_reasons == quarantined


def test_the_last_record_of_an_id_wins_whichever_day_it_falls_on() -> None:
    result = clean(
        {"transaction_id": "T-1", "transaction_ts": "2024-03-04T10:00:00Z", "status": "SUCCESS"},
        {"transaction_id": "T-1", "transaction_ts": "2024-03-05T09:00:00Z", "status": "FAILED"},
        {"transaction_id": "T-2", "transaction_ts": "2024-03-05T09:00:00Z", "status": "SUCCESS"},
        {"transaction_id": "T-2", "transaction_ts": "2024-03-03T09:00:00Z", "status": "FAILED"},
    )
    rows = result.processed.select(["transaction_id", "date_key", "status"]).to_pylist()
    assert rows == [
        {"transaction_id": "T-1", "date_key": 20240305, "status": "FAILED"},
        {"transaction_id": "T-2", "date_key": 20240303, "status": "FAILED"},
    ]
    assert result.rows_late == 1
    assert reasons(result) == ["duplicate_transaction_id", "duplicate_transaction_id"]


def test_without_a_late_window_the_file_holds_its_own_day_only() -> None:
    result = clean_transactions(
        records({"transaction_ts": "2024-03-05T10:00:00Z"}, {"transaction_ts": "2024-03-04T10:00:00Z"}),
        MALFORMED_SCHEMA.empty_table(),
        DAY,
    )
    assert result.processed.column("date_key").to_pylist() == [20240305]
    assert result.quarantine_reasons == {"too_late": 1}


def test_accepted_rows_are_trimmed_and_enriched() -> None:
    row = clean(
        {"customer_id": " CUST-7 ", "city": " Kochi ", "state": "Kerala ", "channel": " Net Banking "}
    ).processed.to_pylist()[0]
    assert (row["customer_id"], row["city"], row["state"], row["region"]) == ("CUST-7", "Kochi", "Kerala", "South")
    assert (row["channel"], row["channel_key"], row["fee_percent"]) == ("Net Banking", 4, Decimal("1.50"))
    assert row["date_key"] == 20240305


def result_is_typed_as_the_contract(result: CleanResult) -> bool:
    return result.processed.schema.equals(PROCESSED_SCHEMA) and result.rejected.schema.equals(QUARANTINE_SCHEMA)


@pytest.mark.parametrize(
    "rows, bad",
    [
        ([{}], None),
        ([{"amount": "x"}, {"transaction_ts": "2024-03-01T00:00:00Z"}], None),
        ([], ("a,b",)),
        ([{"status": "?"}], ("a,b",)),
    ],
    ids=["accepted", "rejected and late", "malformed only", "rejected and malformed"],
)
def test_the_tables_follow_the_lake_schemas(rows: list[dict[str, str]], bad: tuple[str, ...] | None) -> None:
    assert result_is_typed_as_the_contract(clean(*rows, bad=malformed(*bad) if bad else None))


def test_a_state_outside_the_reference_list_lands_in_region_unknown() -> None:
    row = clean({"city": "Port Blair", "state": "Andaman and Nicobar Islands"}).processed.to_pylist()[0]
    assert row["region"] == "Unknown"


# --- accounting ----------------------------------------------------------------------------------


def test_an_empty_day_reconciles_to_zero() -> None:
    result = clean()
    counts = (result.rows_received, result.processed.num_rows, result.rejected.num_rows, result.duplicates_dropped)
    assert counts == (0, 0, 0, 0)
    assert result.rows_late == 0
    assert result_is_typed_as_the_contract(result)


def test_a_day_where_every_row_is_bad_reconciles() -> None:
    result = clean({"amount": "-1"}, {"status": "x"}, {"channel": "x"}, bad=malformed("oops", first_row=4))
    assert result.processed.num_rows == 0
    assert sorted(reasons(result)) == ["amount_not_positive", "malformed_record", "unknown_channel", "unknown_status"]


def test_a_mixed_day_reconciles_and_counts_each_reason() -> None:
    rows = [
        {"transaction_id": "A"},
        {"transaction_id": "A"},  # exact duplicate
        {"transaction_id": "B", "amount": "1.00"},
        {"transaction_id": "B", "amount": "2.00"},  # id repeated
        {"transaction_id": "C", "amount": "abc"},
        {"transaction_id": "D", "status": "pending"},
        {"transaction_id": "E"},
    ]
    result = clean(*rows, bad=malformed("x", first_row=8))
    assert result.rows_received == 8
    assert result.processed.column("transaction_id").to_pylist() == ["A", "B", "E"]
    assert result.duplicates_dropped == 1
    assert result.quarantine_reasons == {
        "duplicate_transaction_id": 1,
        "invalid_amount": 1,
        "malformed_record": 1,
        "unknown_status": 1,
    }


def test_cleaned_tables_write_as_clean_csv_whatever_the_input_chunking() -> None:
    """The warehouse COPYs these tables as CSV written by Arrow; an empty first chunk (a header-only
    first file, or a quarantine of malformed records only) must not put stray bytes in that CSV."""
    import io

    import pyarrow.csv as pacsv

    chunked = pa.concat_tables([records().slice(0, 0), records({"transaction_id": "A"}, {"transaction_id": "B"})])
    bad = pa.concat_tables([MALFORMED_SCHEMA.empty_table(), malformed("x,y")])
    result = clean_transactions(chunked, bad, DAY, late_arrival_days=LATE_DAYS)
    for table in (result.processed, result.rejected):
        buffer = io.BytesIO()
        pacsv.write_csv(table, buffer, write_options=pacsv.WriteOptions(include_header=False))
        assert b"\x00" not in buffer.getvalue()
        assert buffer.getvalue().count(b"\n") == table.num_rows

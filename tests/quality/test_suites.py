"""The raw and processed suites on real GX: a clean day passes, each defect fails its expectation
with its severity, and a few bad rows below the quarantine threshold do not block."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from flows.dates import date_key
from flows.quality import SuiteReport, format_failure, validate_processed, validate_raw
from flows.quality.batches import row_count_band
from tests.quality.conftest import DAY, ROWS, replace, replace_rows


def failed(report: SuiteReport) -> dict[str, str]:
    """expectation -> severity of every failed expectation."""
    return {o.expectation: o.severity for o in report.outcomes if not o.success}


def raw_report(raw: pa.Table, settings, **kwargs) -> SuiteReport:
    return validate_raw(raw, DAY, settings, docs="never", **kwargs)


def processed_report(
    processed: pa.Table, settings, *, received: int | None = None, quarantined: int = 0
) -> SuiteReport:
    received = processed.num_rows + quarantined if received is None else received
    return validate_processed(
        processed, DAY, rows_received=received, rows_quarantined=quarantined, settings=settings, docs="never"
    )


def test_a_clean_day_passes_both_suites_without_warnings(clean_day, quality_settings) -> None:
    raw = raw_report(clean_day.raw, quality_settings)
    processed = processed_report(clean_day.processed, quality_settings)
    for report in (raw, processed):
        assert report.passed and not report.warnings, failed(report)
        assert all(o.success for o in report.outcomes)
        assert report.run_date == DAY
    assert {o.suite for o in raw.outcomes} == {"raw"} and {o.suite for o in processed.outcomes} == {"processed"}
    assert raw.outcome("expect_table_row_count_to_be_between").observed_value == ROWS
    assert format_failure([raw, processed]) == "every quality suite passed"


RawDefect = Callable[[pa.Table], pa.Table]

RAW_DEFECTS: list[tuple[str, RawDefect, str, str]] = [
    (
        "null ids",
        lambda t: replace_rows(t, "transaction_id", 8, None),
        "expect_column_values_to_not_be_null:transaction_id",
        "critical",
    ),
    (
        "negative amounts",
        lambda t: replace_rows(t, "amount", 8, "-12.50"),
        "expect_column_values_to_match_regex:amount",
        "critical",
    ),
    (
        "zero amounts",
        lambda t: replace_rows(t, "amount", 8, "0.00"),
        "expect_column_values_to_match_regex:amount",
        "critical",
    ),
    (
        "three decimals",
        lambda t: replace_rows(t, "amount", 8, "10.125"),
        "expect_column_values_to_match_regex:amount",
        "critical",
    ),
    (
        "status drift",
        lambda t: replace_rows(t, "status", 6, "COMPLETED"),
        "expect_column_values_to_match_regex:status",
        "critical",
    ),
    (
        "unknown channel",
        lambda t: replace_rows(t, "channel", 8, "Crypto"),
        "expect_column_values_to_match_regex:channel",
        "critical",
    ),
    (
        "bad timestamps",
        lambda t: replace_rows(t, "transaction_ts", 8, "15/01/2024 10:00"),
        "expect_column_values_to_match_regex:transaction_ts",
        "critical",
    ),
    (
        "negative processing time",
        lambda t: replace_rows(t, "processing_time_s", 8, "-1.5"),
        "expect_column_values_to_match_regex:processing_time_s",
        "critical",
    ),
    (
        "missing customers",
        lambda t: replace_rows(t, "customer_id", 8, None),
        "expect_column_values_to_not_be_null:customer_id",
        "critical",
    ),
    ("volume drop", lambda t: t.slice(0, ROWS // 10), "expect_table_row_count_to_be_between", "critical"),
    ("volume surge", lambda t: pa.concat_tables([t, t]), "expect_table_row_count_to_be_between", "critical"),
    (
        "duplicate storm",
        lambda t: pa.concat_tables([t, t.slice(0, ROWS // 3)]),
        "expect_column_values_to_be_unique:transaction_id",
        "warning",
    ),
    ("missing column", lambda t: t.drop_columns(["amount"]), "expect_table_columns_to_match_set", "critical"),
    (
        "column not text",
        lambda t: replace(t, "processing_time_s", pc.cast(t.column("processing_time_s"), pa.float64())),
        "expect_table_column_types_to_match",
        "critical",
    ),
]


@pytest.mark.parametrize("defect, expectation, severity", [d[1:] for d in RAW_DEFECTS], ids=[d[0] for d in RAW_DEFECTS])
def test_each_raw_defect_fails_its_expectation(
    clean_day, quality_settings, defect: RawDefect, expectation: str, severity: str
) -> None:
    report = raw_report(defect(clean_day.raw), quality_settings)
    assert failed(report).get(expectation) == severity, failed(report)
    assert report.passed is (severity == "warning")


def test_a_missing_column_is_reported_not_raised(clean_day, quality_settings) -> None:
    report = raw_report(clean_day.raw.drop_columns(["amount"]), quality_settings)
    assert report.outcome("expect_table_column_types_to_match").observed_value == {"amount": "missing"}
    assert "does not exist" in report.outcome("expect_column_values_to_match_regex:amount").observed_value["error"]


def test_a_few_bad_rows_below_the_quarantine_threshold_do_not_block(clean_day, quality_settings) -> None:
    # 4 % bad amounts: the transform quarantines them; the day stays under the 5 % threshold.
    report = raw_report(replace_rows(clean_day.raw, "amount", 25, "-1.00"), quality_settings)
    outcome = report.outcome("expect_column_values_to_match_regex:amount")
    assert report.passed and outcome.success
    assert outcome.unexpected_count == 20 and outcome.element_count == ROWS
    assert "-1.00" in outcome.observed_value["sample"]


@pytest.mark.parametrize(
    "text, accepted",
    [
        ("12.50", True),
        (" 7 ", True),
        ("+3", True),
        ("0.01", True),
        (".5", True),
        ("0009999999999.99", True),
        ("0", False),
        ("0.00", False),
        ("-4.00", False),
        ("1.005", False),
        ("12,50", False),
        ("1e3", False),
        ("10000000000", False),
        ("abc", False),
    ],
)
def test_the_raw_amount_rule_matches_the_transform(clean_day, quality_settings, text: str, accepted: bool) -> None:
    from flows.ingest import MALFORMED_SCHEMA
    from flows.transform import clean_transactions

    one = replace(clean_day.raw.slice(0, 1), "amount", [text])
    transformed = clean_transactions(one, MALFORMED_SCHEMA.empty_table(), DAY)
    assert (transformed.processed.num_rows == 1) is accepted
    outcome = raw_report(one, quality_settings, expected_rows=0).outcome("expect_column_values_to_match_regex:amount")
    assert outcome.success is accepted


def test_the_row_count_band_follows_the_settings(clean_day, own_settings) -> None:
    assert row_count_band(own_settings()) == (250, 750)
    assert row_count_band(own_settings(expected_rows_per_day=2000)) == (1000, 3000)
    assert row_count_band(own_settings(expected_rows_per_day=2000, row_count_tolerance=0.8)) == (400, 3600)
    assert row_count_band(own_settings(expected_rows_per_day=0)) == (0, None)
    assert row_count_band(own_settings(), expected_rows=100) == (50, 150)
    # A landed file of another size passes once the band is configured for it.
    settings = own_settings(expected_rows_per_day=2000)
    key = "expect_table_row_count_to_be_between"
    assert not raw_report(clean_day.raw, settings).outcome(key).success
    assert raw_report(clean_day.raw, settings, expected_rows=ROWS).outcome(key).success
    assert raw_report(clean_day.raw, own_settings(expected_rows_per_day=0)).outcome(key).success


def _add_days(values: pa.ChunkedArray, days: int) -> pa.Array:
    return pc.add(values, pa.scalar(days * 86_400_000_000, pa.duration("us")))


ProcessedDefect = Callable[[pa.Table], pa.Table]

PROCESSED_DEFECTS: list[tuple[str, ProcessedDefect, str]] = [
    (
        "null id",
        lambda t: replace_rows(t, "transaction_id", 50, None),
        "expect_column_values_to_not_be_null:transaction_id",
    ),
    (
        "repeated id",
        lambda t: replace_rows(t, "transaction_id", 50, "TXN-SAME"),
        "expect_column_values_to_be_unique:transaction_id",
    ),
    ("amount zero", lambda t: replace_rows(t, "amount", 50, Decimal("0.00")), "expect_column_min_to_be_between:amount"),
    ("status drift", lambda t: replace_rows(t, "status", 50, "COMPLETED"), "expect_column_values_to_be_in_set:status"),
    (
        "unknown channel",
        lambda t: replace_rows(t, "channel", 50, "Crypto"),
        "expect_column_values_to_be_in_set:channel",
    ),
    (
        "timestamp next day",
        lambda t: replace(t, "transaction_ts", _add_days(t.column("transaction_ts"), 1)),
        "expect_column_values_to_be_between:transaction_ts",
    ),
    (
        "timestamp before the late-arrival window",
        lambda t: replace(t, "transaction_ts", _add_days(t.column("transaction_ts"), -8)),
        "expect_column_values_to_be_between:transaction_ts",
    ),
    (
        "date_key of another day of the window",
        lambda t: replace_rows(t, "date_key", 50, 20240114),
        "expect_column_pair_values_to_match_date_key:transaction_ts,date_key",
    ),
    (
        "other date_key",
        lambda t: replace_rows(t, "date_key", 50, 20240116),
        "expect_column_values_to_be_in_set:date_key",
    ),
    (
        "negative processing time",
        lambda t: replace_rows(t, "processing_time_s", 50, -0.5),
        "expect_column_values_to_be_between:processing_time_s",
    ),
    (
        "unknown bucket",
        lambda t: replace_rows(t, "processing_delay_bucket", 50, "instant"),
        "expect_column_values_to_be_in_set:processing_delay_bucket",
    ),
    (
        "bucket off its time",
        lambda t: replace(t, "processing_delay_bucket", ["slow"] * t.num_rows),
        "expect_column_pair_values_to_match_buckets:processing_time_s,processing_delay_bucket",
    ),
    (
        "revenue off by 2 paise",
        lambda t: replace(t, "revenue", pc.add(t.column("revenue"), pa.scalar(Decimal("0.02")))),
        "expect_multicolumn_values_to_match_revenue_rule:amount,fee_percent,status,revenue",
    ),
    ("no region", lambda t: replace_rows(t, "region", 50, None), "expect_column_values_to_not_be_null:region"),
    (
        "amount as float",
        lambda t: replace(t, "amount", pc.cast(t.column("amount"), pa.float64())),
        "expect_table_column_types_to_match",
    ),
    (
        "timestamps in ns",
        lambda t: replace(t, "transaction_ts", pc.cast(t.column("transaction_ts"), pa.timestamp("ns", tz="UTC"))),
        "expect_table_column_types_to_match",
    ),
    (
        "columns reordered",
        lambda t: t.select(list(reversed(t.column_names))),
        "expect_table_columns_to_match_ordered_list",
    ),
    ("no rows", lambda t: t.slice(0, 0), "expect_table_row_count_to_be_between"),
]


@pytest.mark.parametrize(
    "defect, expectation", [d[1:] for d in PROCESSED_DEFECTS], ids=[d[0] for d in PROCESSED_DEFECTS]
)
def test_each_processed_defect_fails_its_critical_expectation(
    clean_day, quality_settings, defect: ProcessedDefect, expectation: str
) -> None:
    report = processed_report(defect(clean_day.processed), quality_settings, received=ROWS)
    assert failed(report).get(expectation) == "critical", failed(report)
    assert not report.passed


def _late_records(processed: pa.Table, days_back: int) -> pa.Table:
    """Every 50th row moved `days_back` days earlier, with its own date_key (a late arrival)."""
    late = pa.array([i % 50 == 0 for i in range(processed.num_rows)])
    moved = _add_days(processed.column("transaction_ts"), -days_back)
    late_key = date_key(DAY - timedelta(days=days_back))
    return replace(
        replace(processed, "transaction_ts", pc.if_else(late, moved, processed.column("transaction_ts"))),
        "date_key",
        pc.if_else(late, pa.scalar(late_key, pa.int32()), processed.column("date_key")),
    )


@pytest.mark.parametrize(
    "late_arrival_days, days_back, accepted",
    [(7, 1, True), (7, 7, True), (7, 8, False), (0, 0, True), (0, 1, False), (2, 3, False)],
)
def test_late_records_inside_the_window_pass_with_their_own_date_key(
    clean_day, quality_settings, late_arrival_days: int, days_back: int, accepted: bool
) -> None:
    settings = quality_settings.model_copy(update={"late_arrival_days": late_arrival_days})
    report = processed_report(_late_records(clean_day.processed, days_back), settings)
    assert report.passed is accepted, failed(report)
    if not accepted:
        assert set(failed(report)) == {
            "expect_column_values_to_be_between:transaction_ts",
            "expect_column_values_to_be_in_set:date_key",
        }


def test_revenue_rule_accepts_half_up_rounding_and_zero_for_failed(clean_day, quality_settings) -> None:
    processed = clean_day.processed
    failed_rows = pc.equal(processed.column("status"), "FAILED")
    assert (
        pc.any(failed_rows).as_py() and pc.all(pc.equal(pc.filter(processed.column("revenue"), failed_rows), 0)).as_py()
    )
    key = "expect_multicolumn_values_to_match_revenue_rule:amount,fee_percent,status,revenue"
    assert processed_report(processed, quality_settings).outcome(key).success
    earning_on_failed = replace(
        processed,
        "revenue",
        pc.if_else(failed_rows, pa.scalar(Decimal("1.00"), pa.decimal128(12, 2)), processed.column("revenue")),
    )
    outcome = processed_report(earning_on_failed, quality_settings).outcome(key)
    assert not outcome.success and outcome.unexpected_count == pc.sum(failed_rows).as_py()


@pytest.mark.parametrize("quarantined, blocked", [(0, False), (25, False), (26, True), (300, True)])
def test_the_quarantine_share_blocks_above_the_threshold(
    clean_day, quality_settings, quarantined: int, blocked: bool
) -> None:
    # 25 of 500 received = exactly 5 %: still allowed.
    processed = clean_day.processed.slice(0, ROWS - quarantined)
    report = processed_report(processed, quality_settings, received=ROWS, quarantined=quarantined)
    outcome = report.outcome("expect_quarantined_share_to_be_at_most")
    assert outcome.success is not blocked and report.passed is not blocked
    assert outcome.observed_value == pytest.approx(quarantined / ROWS)
    assert (outcome.unexpected_count, outcome.element_count, outcome.severity) == (quarantined, ROWS, "critical")


def test_a_failure_surge_warns_and_does_not_block(clean_day, quality_settings) -> None:
    processed = clean_day.processed
    surge = replace_rows(replace_rows(processed, "status", 2, "FAILED"), "revenue", 2, Decimal("0.00"))
    report = processed_report(surge, quality_settings)
    assert report.passed
    assert [o.expectation for o in report.warnings] == ["expect_column_values_to_be_in_set:status[failure_rate]"]
    assert report.warnings[0].unexpected_count == pc.sum(pc.equal(surge.column("status"), "FAILED")).as_py()
    assert "status[failure_rate]" not in format_failure([report])


def test_format_failure_names_the_failed_critical_expectations_and_the_page(clean_day, quality_settings) -> None:
    raw = validate_raw(replace_rows(clean_day.raw, "amount", 5, "-3.00"), DAY, quality_settings, docs="on_failure")
    message = format_failure([raw])
    assert message.startswith("quality gate failed for 2024-01-15")
    assert "raw suite: expect_column_values_to_match_regex:amount (100 of 500 unexpected (20.0%)" in message
    assert '"-3.00"' in message
    # A blocked day gets its Data Docs page even when docs are only built on failure.
    assert raw.data_docs_url and raw.data_docs_url in message
    assert "expect_column_values_to_be_unique" not in message

"""record_results: one dq_results row per day x suite x expectation, replaced by the day's latest run."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa

from flows.quality import (
    ExpectationOutcome,
    SuiteReport,
    check_warehouse_day,
    record_results,
    validate_processed,
    validate_raw,
)
from tests.quality.conftest import DAY, ROWS, replace_rows

COLUMNS = "run_date, suite, expectation, severity, success, observed_value, unexpected_count, element_count, run_id, validated_at, data_docs_url"


def rows(engine: sa.Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        result = conn.exec_driver_sql(f"SELECT {COLUMNS} FROM dq_results ORDER BY run_date, suite, expectation")
        return [dict(r) for r in result.mappings()]


def test_a_clean_days_history_is_present_and_correct(engine: sa.Engine, clean_day, own_settings) -> None:
    settings = own_settings()
    reports = [
        validate_raw(clean_day.raw, DAY, settings),
        validate_processed(clean_day.processed, DAY, rows_received=ROWS, rows_quarantined=0, settings=settings),
        check_warehouse_day(engine, DAY, expected_rows=0),
    ]
    record_results(engine, reports, run_id="flow-run-1")

    stored = rows(engine)
    expected = sorted((r.suite, o.expectation) for r in reports for o in r.outcomes)
    assert sorted((row["suite"], row["expectation"]) for row in stored) == expected
    assert all(row["success"] and row["run_id"] == "flow-run-1" and row["run_date"] == DAY for row in stored)
    by_key = {(row["suite"], row["expectation"]): row for row in stored}
    for report in reports:
        for o in report.outcomes:
            row = by_key[(report.suite, o.expectation)]
            assert row["severity"] == o.severity
            assert json.loads(row["observed_value"]) == o.observed_value
            assert (row["unexpected_count"], row["element_count"]) == (o.unexpected_count, o.element_count)
            assert row["validated_at"] == report.validated_at
            assert row["data_docs_url"] == report.data_docs_url
    raw_rows = by_key[("raw", "expect_table_row_count_to_be_between")]
    assert json.loads(raw_rows["observed_value"]) == ROWS
    assert by_key[("raw", "expect_column_values_to_not_be_null:transaction_id")]["element_count"] == ROWS
    assert by_key[("raw", "expect_column_values_to_be_unique:transaction_id")]["severity"] == "warning"
    assert by_key[("processed", "expect_quarantined_share_to_be_at_most")]["data_docs_url"].startswith("file://")
    assert by_key[("warehouse", "expect_fact_row_count_to_equal_processed_rows")]["data_docs_url"] is None


def _report(suite: str, day: date, *outcomes: tuple[str, bool]) -> SuiteReport:
    return SuiteReport(
        suite=suite,
        run_date=day,
        data_docs_url=None,
        validated_at=datetime(2024, 1, 16, tzinfo=UTC),
        outcomes=tuple(
            ExpectationOutcome(suite, name, "critical", ok, {"n": 1}, 0 if ok else 1, 10) for name, ok in outcomes
        ),
    )


def test_a_rerun_replaces_the_days_rows_of_that_suite_only(engine: sa.Engine) -> None:
    other_day = date(2024, 1, 14)
    record_results(
        engine,
        [
            _report("raw", DAY, ("a", True), ("b", True)),
            _report("processed", DAY, ("c", True)),
            _report("raw", other_day, ("a", True)),
        ],
        run_id="run-1",
    )
    with engine.connect() as conn:  # a Connection: the caller's transaction, the caller commits
        record_results(conn, [_report("raw", DAY, ("a", False))], run_id="run-2")
        conn.commit()
    stored = {(r["run_date"], r["suite"], r["expectation"]): (r["success"], r["run_id"]) for r in rows(engine)}
    assert stored == {
        (DAY, "raw", "a"): (False, "run-2"),  # replaced; "b" is gone with the old run
        (DAY, "processed", "c"): (True, "run-1"),
        (other_day, "raw", "a"): (True, "run-1"),
    }


def test_failed_expectations_are_what_the_dashboard_query_lists(engine: sa.Engine, clean_day, own_settings) -> None:
    from flows.warehouse.sql import sql

    settings = own_settings()
    bad = validate_raw(replace_rows(clean_day.raw, "amount", 4, "-1.00"), DAY, settings, docs="never")
    record_results(engine, [bad], run_id="run-1")
    with engine.connect() as conn:
        failures = conn.exec_driver_sql(sql("queries/quality_failures.sql"), {"limit": 10}).mappings().all()
    assert [(f["suite"], f["expectation"], f["severity"]) for f in failures] == [
        ("raw", "expect_column_values_to_match_regex:amount", "critical")
    ]
    assert failures[0]["unexpected_count"] == ROWS // 4

"""Many days in one GX run (flows/quality/chunks.py): each day gets the verdict its own run gives,
in far fewer GX runs than days when the days are good."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from flows.generate import SCENARIOS
from flows.quality import ProcessedDay, validate_processed_days, validate_raw, validate_raw_days
from flows.settings import Settings
from tests.quality.conftest import raw_day, replace_rows, transform

FIRST = date(2024, 2, 1)


def _stored_results(settings: Settings) -> int:
    from flows.quality.gx_project import quality_paths

    return sum(1 for _ in Path(quality_paths(settings).results_dir).rglob("*.json"))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=str(tmp_path / "data"), transactions_per_day=500)


def _days(n: int) -> list[date]:
    return [FIRST + timedelta(days=i) for i in range(n)]


def test_good_days_are_validated_together_each_with_its_own_report(settings: Settings) -> None:
    days = _days(8)
    raws = [raw_day(day=day) for day in days]
    before = _stored_results(settings)
    reports = validate_raw_days(list(zip(days, raws, strict=True)), settings, docs="never")
    assert _stored_results(settings) - before == 1, "eight good days: one GX run"
    assert [r.run_date for r in reports] == days
    assert all(r.passed and not r.warnings for r in reports)
    rows = reports[3].outcome("expect_table_row_count_to_be_between")
    assert rows.observed_value == 500, "the day's own row count"
    regex = reports[3].outcome("expect_column_values_to_match_regex:amount")
    assert regex.element_count == 500 and regex.unexpected_count == 0
    assert regex.observed_value["validated_with"] == f"{days[0]}..{days[-1]} (8 days)"

    cleans = [transform(raw, day) for raw, day in zip(raws, days, strict=True)]
    processed = [ProcessedDay(c.run_date, c.processed, c.rows_received, c.rejected.num_rows) for c in cleans]
    before = _stored_results(settings)
    reports = validate_processed_days(processed, settings, docs="never")
    assert _stored_results(settings) - before == 1
    assert all(r.passed for r in reports) and [r.run_date for r in reports] == days


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_a_bad_day_among_good_ones_gets_the_verdict_of_its_own_run(settings: Settings, scenario: str) -> None:
    days = _days(6)
    bad = days[4]
    raws = [raw_day(scenario if day == bad else None, day=day) for day in days]
    together = validate_raw_days(list(zip(days, raws, strict=True)), settings, docs="never")
    alone = [validate_raw(raw, day, settings, docs="never") for day, raw in zip(days, raws, strict=True)]
    for chunked, own in zip(together, alone, strict=True):
        assert chunked.passed == own.passed
        assert [o.expectation for o in chunked.critical_failures] == [o.expectation for o in own.critical_failures]
        assert [o.expectation for o in chunked.warnings] == [o.expectation for o in own.warnings]

    cleans = [transform(raw, day) for raw, day in zip(raws, days, strict=True)]
    processed = [ProcessedDay(c.run_date, c.processed, c.rows_received, c.rejected.num_rows) for c in cleans]
    chunked_processed = validate_processed_days(processed, settings, docs="never")
    own_processed = [validate_processed_days([p], settings, docs="never")[0] for p in processed]
    for chunked, own in zip(chunked_processed, own_processed, strict=True):
        assert (chunked.passed, [o.expectation for o in chunked.warnings]) == (
            own.passed,
            [o.expectation for o in own.warnings],
        )


def test_defects_spread_over_days_pass_when_each_day_is_within_its_allowance(settings: Settings) -> None:
    """Each day has 1 % bad amounts (the day's allowance is 5 %): together they are 1 % of all rows,
    more than one day's allowance spread over six days allows, so the run splits, and every day passes."""
    days = _days(6)
    raws = [replace_rows(raw_day(day=day), "amount", 100, "-1.00") for day in days]
    reports = validate_raw_days(list(zip(days, raws, strict=True)), settings, docs="never")
    assert all(r.passed for r in reports)
    one_bad = [
        replace_rows(raw, "amount", 10, "-1.00") if day == days[2] else raw for day, raw in zip(days, raws, strict=True)
    ]
    reports = validate_raw_days(list(zip(days, one_bad, strict=True)), settings, docs="never")
    assert [r.passed for r in reports] == [day != days[2] for day in days]

"""Each named defect scenario of the generator trips the expectation flows/quality documents for it,
with that severity, through the real generator, transform and suites."""

from __future__ import annotations

import re

import pytest

import flows.quality
from flows.generate import SCENARIOS
from flows.quality import validate_processed, validate_raw
from tests.quality.conftest import DAY, raw_day, transform

# scenario -> (suite, expectation, severity): the table in flows/quality/__init__.py, read back.
DOCUMENTED = {
    scenario: (suite, expectation, severity)
    for scenario, suite, expectation, severity in re.findall(
        r"^\| `([a-z-]+)` +\| (\w+) +\| `([^`]+)` +\| (\w+) +\|$", flows.quality.__doc__, flags=re.M
    )
}


def test_every_generator_scenario_is_documented() -> None:
    assert sorted(DOCUMENTED) == sorted(SCENARIOS)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_the_scenario_trips_its_expectation(scenario: str, quality_settings) -> None:
    suite, expectation, severity = DOCUMENTED[scenario]
    raw = raw_day(scenario)
    raw_report = validate_raw(raw, DAY, quality_settings, docs="never")
    clean = transform(raw)
    processed_report = validate_processed(
        clean.processed,
        DAY,
        rows_received=clean.rows_received,
        rows_quarantined=clean.rejected.num_rows,
        settings=quality_settings,
        docs="never",
    )
    report = raw_report if suite == "raw" else processed_report
    outcome = report.outcome(expectation)
    assert not outcome.success and outcome.severity == severity
    # Critical scenarios stop the day at the gate; warnings are reported and the day loads.
    day_passes = raw_report.passed and processed_report.passed
    assert day_passes is (severity == "warning")
    if severity == "warning":
        assert outcome in report.warnings


def test_a_clean_generated_day_trips_nothing(quality_settings) -> None:
    raw = raw_day()
    clean = transform(raw)
    reports = [
        validate_raw(raw, DAY, quality_settings, docs="never"),
        validate_processed(
            clean.processed,
            DAY,
            rows_received=clean.rows_received,
            rows_quarantined=clean.rejected.num_rows,
            settings=quality_settings,
            docs="never",
        ),
    ]
    assert [o.expectation for r in reports for o in r.outcomes if not o.success] == []

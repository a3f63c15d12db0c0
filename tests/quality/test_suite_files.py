"""The committed suites (expectations/gx/expectations/*.json, their one definition) agree with the
contract, the reference data and the transform, and stay on GX's fast paths."""

from __future__ import annotations

import json
import re
from datetime import date
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from flows.contract import MAX_PROCESSING_TIME_S, PROCESSED_COLUMNS, RAW_COLUMNS
from flows.quality.batches import processed_parameters, raw_parameters
from flows.quality.gx_project import PROJECT_ROOT, SUITES
from flows.quality.model import expectation_key
from flows.reference import CHANNELS, FAST_BELOW_S, SLOW_FROM_S, STATUSES
from flows.settings import Settings
from flows.transform import PROCESSED_SCHEMA
from tests.quality.conftest import raw_day

SUITE_FILES = {name: json.loads((PROJECT_ROOT / "gx" / "expectations" / f"{name}.json").read_text()) for name in SUITES}


def expectations(suite: str, type_: str | None = None, **kwargs: Any) -> list[dict]:
    return [
        e
        for e in SUITE_FILES[suite]["expectations"]
        if (type_ is None or e["type"] == type_) and all(e["kwargs"].get(k) == v for k, v in kwargs.items())
    ]


def one(suite: str, type_: str, **kwargs: Any) -> dict:
    (found,) = expectations(suite, type_, **kwargs)
    return found["kwargs"]


@pytest.mark.parametrize("suite", SUITES)
def test_every_expectation_has_a_severity_and_a_unique_stable_id(suite: str) -> None:
    entries = SUITE_FILES[suite]["expectations"]
    assert {e["severity"] for e in entries} <= {"critical", "warning"}
    keys = [expectation_key(e["type"], e["kwargs"], e.get("meta")) for e in entries]
    assert len(keys) == len(set(keys)), keys
    assert len({e["id"] for e in entries}) == len(entries)


@pytest.mark.parametrize("suite", SUITES)
def test_the_suite_parameters_are_the_ones_the_code_passes(suite: str) -> None:
    used = set(re.findall(r'"\$PARAMETER": "(\w+)"', json.dumps(SUITE_FILES[suite])))
    settings = Settings()
    passed = (
        raw_parameters(settings)
        if suite == "raw"
        else processed_parameters(settings, date(2024, 1, 15), rows_received=1, rows_quarantined=0)
    )
    assert used == set(passed)


def test_the_columns_and_types_are_the_contracts() -> None:
    assert one("raw", "expect_table_columns_to_match_set")["column_set"] == list(RAW_COLUMNS)
    assert one("raw", "expect_table_column_types_to_match")["column_types"] == {c: "string" for c in RAW_COLUMNS}
    assert one("processed", "expect_table_columns_to_match_ordered_list")["column_list"] == list(PROCESSED_COLUMNS)
    assert one("processed", "expect_table_column_types_to_match")["column_types"] == {
        f.name: str(f.type) for f in PROCESSED_SCHEMA
    }


def test_the_value_sets_are_the_reference_data() -> None:
    assert one("processed", "expect_column_values_to_be_in_set", column="channel")["value_set"] == list(CHANNELS)
    statuses = [
        e["kwargs"]["value_set"]
        for e in expectations("processed", "expect_column_values_to_be_in_set", column="status")
    ]
    assert list(STATUSES) in statuses and ["SUCCESS"] in statuses
    assert one("raw", "expect_column_values_to_match_regex", column="channel")["regex"].count("|") == len(CHANNELS) - 1
    assert all(
        name in one("raw", "expect_column_values_to_match_regex", column="channel")["regex"] for name in CHANNELS
    )
    assert all(s in one("raw", "expect_column_values_to_match_regex", column="status")["regex"] for s in STATUSES)
    buckets = one("processed", "expect_column_pair_values_to_match_buckets")["buckets"]
    assert buckets == [["fast", None, FAST_BELOW_S], ["medium", FAST_BELOW_S, SLOW_FROM_S], ["slow", SLOW_FROM_S, None]]
    assert one("processed", "expect_column_values_to_be_in_set", column="processing_delay_bucket")["value_set"] == [
        b[0] for b in buckets
    ]
    assert (
        one("processed", "expect_column_values_to_be_between", column="processing_time_s")["max_value"]
        == MAX_PROCESSING_TIME_S
    )


REGEXES = [
    (e["kwargs"]["column"], e["kwargs"]["regex"]) for e in expectations("raw", "expect_column_values_to_match_regex")
]
SAMPLES = [
    "12.50",
    " 7 ",
    "0.00",
    "-1.00",
    "1.005",
    "1e3",
    "SUCCESS",
    " failed ",
    "pending",
    "UPI",
    " Net Banking",
    "Crypto",
    "2024-01-15T10:00:00Z",
    "2024-01-15 10:00",
    "2024-01-15T10:00:00.123456+05:30",
    "15/01/2024",
    "3.200",
    "+0.5",
    "",
    " ",
    "\t12\t",
    "１２",
    "12\n",
    "abc",
]


@pytest.mark.parametrize("column, regex", REGEXES, ids=[c for c, _ in REGEXES])
def test_raw_patterns_run_in_re2_with_the_meaning_of_pythons_re(column: str, regex: str) -> None:
    # \s, \d, \w, \b and look-arounds make pandas fall back to Python's re (5-8x slower at 1M rows).
    assert not re.search(r"\\[sSdDwWbB]|\(\?[=!<]", regex), regex
    values = raw_day().column(column).to_pylist()[:200] + SAMPLES
    re2 = pc.match_substring_regex(pa.array(values, pa.string()), regex).to_pylist()
    assert re2 == [re.search(regex, v) is not None for v in values]


@pytest.mark.parametrize("threshold, fingerprinted", [(None, False), (1e9, True)], ids=["as shipped", "gx default"])
def test_gx_skips_its_batch_fingerprint_because_of_hash_threshold(
    own_settings, monkeypatch: pytest.MonkeyPatch, threshold: float | None, fingerprinted: bool
) -> None:
    """flows/quality/gx_project.py sets GX's HASH_THRESHOLD to 0 (validating a 1M-row day ~5x
    faster; README "Data quality"). This fails when an upgrade renames the constant (setattr),
    stops reading it or renames the marker it controls."""
    from great_expectations.execution_engine import pandas_execution_engine

    from flows.quality import validate_raw
    from flows.quality.gx_project import project_for, quality_paths

    settings = own_settings()
    project_for(settings)  # applies the setting
    if threshold is not None:
        monkeypatch.setattr(pandas_execution_engine, "HASH_THRESHOLD", threshold)
    validate_raw(raw_day(rows=50), date(2024, 1, 15), settings, docs="never")
    (stored,) = quality_paths(settings).results_dir.rglob("*.json")
    markers = json.loads(stored.read_text(encoding="utf-8"))["meta"]["batch_markers"]
    assert ("pandas_data_fingerprint" in markers) is fingerprinted, markers

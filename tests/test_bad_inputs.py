"""Bad input, end to end: every file of tests/data/bad_inputs/ landed as a day into a real PostgreSQL.

Each landed file (or folder of files) gives exactly one of two outcomes:
- a clean failure: ContractError with a one-line reason, nothing of the day in the warehouse,
  and load_audit showing the attempt as failed with that reason; or
- a load: the good rows in fact_transactions, every bad row in quarantine_rows with its reason,
  and load_audit reconciling exactly (received = loaded + quarantined + duplicates dropped) with
  what the warehouse holds.
tests/data/bad_inputs/README.md lists the files and their expected outcome for people; EXPECTED
below is the same table for the test (a consistency test keeps the three in step).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from flows.contract import RAW_COLUMNS
from flows.dates import date_key
from flows.errors import ContractError, QualityGateFailed
from flows.generate import GeneratorConfig, generate_transactions, to_csv_bytes
from flows.settings import Settings
from flows.steps import engine_of, lake_of, run_day

CORPUS = Path(__file__).parent / "data" / "bad_inputs"
DAY = date(2024, 3, 5)
NOT_INPUTS = {"README.md", ".gitattributes"}


@dataclass(frozen=True)
class Fails:
    """A clean failure whose one-line message contains `message`."""

    message: str


@dataclass(frozen=True)
class Blocked(Fails):
    """Parsed and accounted for, but stopped by a critical quality expectation before the load."""

    expectation: str = ""


@dataclass(frozen=True)
class Loads:
    """A load of `loaded` rows (`late` of them into earlier days), quarantine counts by reason,
    exact duplicates dropped."""

    received: int
    loaded: int
    late: int = 0
    quarantined: dict[str, int] = field(default_factory=dict)
    duplicates: int = 0
    amounts: dict[str, str] = field(default_factory=dict)  # transaction_id -> amount loaded


EXPECTED: dict[str, Fails | Loads] = {
    # not a CSV of the contract at all -> the day fails cleanly
    "empty.csv": Fails("is empty"),
    "whitespace_only.csv": Fails("is empty"),
    "bom_only.csv": Fails("is empty"),
    "missing_column.csv": Fails("missing column(s) amount"),
    "wrong_columns.csv": Fails("missing column(s) transaction_id, transaction_ts"),
    "duplicated_column.csv": Fails("duplicated column(s) status"),
    "semicolon_delimiter.csv": Fails("another delimiter than a comma"),
    "tab_delimiter.csv": Fails("another delimiter than a comma"),
    "pipe_delimiter.csv": Fails("another delimiter than a comma"),
    "binary_png.csv": Fails("is binary"),
    "gzip_compressed.csv": Fails("is binary"),
    "utf16.csv": Fails("is binary"),
    "html_error_page.csv": Fails("missing column(s) transaction_id"),
    "json_instead_of_csv.csv": Fails("missing column(s) transaction_id"),
    "folder_with_a_binary_file": Fails("broken.csv is binary"),
    # a CSV of the contract, however awkward -> good rows load, bad rows are quarantined
    "header_only.csv": Blocked("quality gate failed", "expect_table_row_count_to_be_between"),
    "extra_columns.csv": Loads(received=3, loaded=3),
    "reordered_renamed_columns.csv": Loads(received=3, loaded=3),
    "quoted_commas_newlines.csv": Loads(received=5, loaded=4, quarantined={"invalid_amount": 1}),
    "utf8_bom.csv": Loads(received=3, loaded=3),
    "crlf_line_ends.csv": Loads(received=3, loaded=3),
    "cr_line_ends.csv": Loads(received=3, loaded=3),
    "latin1.csv": Loads(received=3, loaded=3),
    "whitespace_padding.csv": Loads(received=3, loaded=3, amounts={"BI-001": "101.50"}),
    "very_long_line.csv": Loads(received=3, loaded=2, quarantined={"value_too_long": 1}),
    "oversized_fields.csv": Loads(received=5, loaded=2, quarantined={"value_too_long": 3}),
    "bad_amounts.csv": Loads(
        received=18,
        loaded=6,
        quarantined={
            "invalid_amount": 5,
            "amount_not_positive": 4,
            "amount_out_of_range": 2,
            "amount_too_many_decimals": 1,
        },
        amounts={"BI-022": "9999999999.99", "BI-023": "5.00", "BI-024": "0.50", "BI-025": "12.50"},
    ),
    "unknown_channels_statuses.csv": Loads(
        received=12,
        loaded=5,
        quarantined={"unknown_channel": 4, "unknown_status": 3},
    ),
    "dates_outside_day.csv": Loads(
        received=14,
        loaded=7,
        late=2,
        quarantined={"timestamp_outside_day": 2, "too_late": 1, "invalid_timestamp": 4},
    ),
    "duplicated_ids.csv": Loads(
        received=11,
        loaded=5,
        quarantined={"duplicate_transaction_id": 3, "invalid_amount": 1},
        duplicates=2,
        amounts={"DUP-A": "20.00", "DUP-C": "30.00", "DUP-D": "3.00"},
    ),
    "malformed_records.csv": Loads(received=6, loaded=3, quarantined={"malformed_record": 3}),
    "missing_values.csv": Loads(
        received=12,
        loaded=2,
        quarantined={
            "missing_transaction_id": 3,
            "missing_customer_id": 1,
            "missing_city": 2,
            "invalid_processing_time": 4,
        },
    ),
    "all_rows_bad.csv": Blocked("quality gate failed", "expect_table_row_count_to_be_between"),
    "folder_of_csvs": Loads(received=5, loaded=3, quarantined={"amount_not_positive": 1}, duplicates=1),
}


def corpus_entries() -> list[str]:
    return sorted(p.name for p in CORPUS.iterdir() if p.name not in NOT_INPUTS)


# --- what the warehouse holds for the day --------------------------------------------------------


def day_in_warehouse(engine: sa.Engine, day: date) -> dict[str, Any]:
    """What the warehouse holds of the file of `day`: its day's facts, the facts of earlier days
    (its late arrivals: each test starts from an empty warehouse), its quarantine and audit."""
    key = date_key(day)
    with engine.connect() as conn:
        facts = conn.exec_driver_sql(
            "SELECT transaction_id, amount FROM fact_transactions WHERE date_key = %(k)s", {"k": key}
        ).all()
        earlier = conn.exec_driver_sql(
            "SELECT transaction_id, amount FROM fact_transactions WHERE date_key < %(k)s", {"k": key}
        ).all()
        partition = conn.exec_driver_sql(
            "SELECT to_regclass(%(n)s) IS NOT NULL", {"n": f"fact_transactions_d{key}"}
        ).scalar()
        quarantine = (
            conn.exec_driver_sql(
                "SELECT source_file, source_row, reject_reason, transaction_id, raw_record FROM quarantine_rows"
                " WHERE run_date = %(d)s",
                {"d": day},
            )
            .mappings()
            .all()
        )
        audit = conn.exec_driver_sql("SELECT * FROM load_audit WHERE run_date = %(d)s", {"d": day}).mappings().first()
    return {
        "facts": dict(facts),
        "earlier_facts": dict(earlier),
        "partition": partition,
        "quarantine": [dict(q) for q in quarantine],
        "audit": dict(audit) if audit else None,
    }


def reason_counts(rows: list[dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["reject_reason"]] = counts.get(row["reject_reason"], 0) + 1
    return counts


def assert_clean_failure(settings: Settings, input_path: Path, expected: Fails) -> None:
    with pytest.raises(ContractError) as info:
        run_day(settings, DAY, input_path=str(input_path))
    message = str(info.value)
    assert expected.message in message
    assert "\n" not in message and "\r" not in message and len(message) < 600, "one line"

    state = day_in_warehouse(engine_of(settings), DAY)
    assert state["facts"] == {} and not state["partition"], "no fact rows for the day"
    assert state["quarantine"] == [], "no quarantine rows for the day"
    audit = state["audit"]
    assert audit["status"] == "failed"
    assert expected.message in audit["message"] and "\n" not in audit["message"]
    assert audit["rows_loaded"] is None and audit["loaded_at"] is None


def assert_blocked(settings: Settings, input_path: Path, expected: Blocked) -> None:
    """A day with nothing to load never replaces the warehouse's day: the gate stops it, clearly."""
    with pytest.raises(QualityGateFailed) as info:
        run_day(settings, DAY, input_path=str(input_path))
    message = str(info.value)
    assert expected.message in message and expected.expectation in message
    assert "\n" not in message, "one line"
    state = day_in_warehouse(engine_of(settings), DAY)
    assert state["facts"] == {} and not state["partition"], "no fact rows for the day"
    assert state["audit"]["status"] == "blocked"


def assert_loaded(settings: Settings, input_path: Path, expected: Loads) -> None:
    outcome = run_day(settings, DAY, input_path=str(input_path))
    state = day_in_warehouse(engine_of(settings), DAY)
    audit = state["audit"]

    # The day's accounting, as recorded, reconciles exactly ...
    assert audit["status"] == "loaded"
    assert audit["rows_received"] == audit["rows_loaded"] + audit["rows_quarantined"] + audit["duplicates_dropped"]
    assert (audit["rows_received"], audit["rows_loaded"], audit["duplicates_dropped"]) == (
        expected.received,
        expected.loaded,
        expected.duplicates,
    )
    assert audit["quarantine_reasons"] == expected.quarantined
    assert audit["rows_quarantined"] == sum(expected.quarantined.values())
    # ... and matches what the warehouse holds: late arrivals in their own (earlier) days.
    assert len(state["facts"]) + len(state["earlier_facts"]) == audit["rows_loaded"]
    assert len(state["earlier_facts"]) == expected.late
    assert reason_counts(state["quarantine"]) == expected.quarantined
    assert (outcome.rows_received, outcome.rows_loaded, outcome.rows_quarantined, outcome.duplicates_dropped) == (
        audit["rows_received"],
        audit["rows_loaded"],
        audit["rows_quarantined"],
        audit["duplicates_dropped"],
    )

    # Every quarantined row can be found in its file and still carries what arrived.
    positions = [(q["source_file"], q["source_row"]) for q in state["quarantine"]]
    assert all(row is not None and row >= 1 for _, row in positions)
    assert len(set(positions)) == len(positions), "one quarantine row per source record"
    for q in state["quarantine"]:
        assert set(q["raw_record"]) == set(RAW_COLUMNS)
        if q["reject_reason"] == "malformed_record":
            assert q["transaction_id"], "a malformed record keeps its raw text"
    for tx, amount in expected.amounts.items():
        assert state["facts"][tx] == Decimal(amount), tx

    # The lake agrees with the warehouse.
    lake = lake_of(settings)
    processed = pq.read_table(lake.processed_path(DAY), columns=["date_key"]).column("date_key").to_pylist()
    assert len(processed) == expected.loaded
    assert sum(key < date_key(DAY) for key in processed) == expected.late
    assert pq.read_metadata(lake.quarantine_path(DAY)).num_rows == sum(expected.quarantined.values())


@pytest.mark.parametrize("entry", corpus_entries())
def test_every_corpus_file_fails_cleanly_or_loads_good_rows_and_quarantines_the_rest(
    entry: str, settings: Settings
) -> None:
    expected = EXPECTED[entry]
    if isinstance(expected, Blocked):
        assert_blocked(settings, CORPUS / entry, expected)
    elif isinstance(expected, Fails):
        assert_clean_failure(settings, CORPUS / entry, expected)
    else:
        assert_loaded(settings, CORPUS / entry, expected)


# --- cases too large to commit: generated into tmp_path ----------------------------------------------


def _row(i: int, **fields: str) -> str:
    values = {
        "transaction_id": f"GEN-{i}",
        "transaction_ts": "2024-03-05T12:00:00Z",
        "customer_id": "CUST-000001",
        "city": "Pune",
        "state": "Maharashtra",
        "channel": "UPI",
        "amount": "10.00",
        "status": "SUCCESS",
        "processing_time_s": "1.0",
        **fields,
    }
    return ",".join(values[c] for c in RAW_COLUMNS)


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join([",".join(RAW_COLUMNS), *lines]) + "\n", encoding="utf-8")
    return path


def test_a_nul_byte_deep_in_a_large_file_fails_cleanly(settings: Settings, tmp_path: Path) -> None:
    path = _write(tmp_path / "nul_after_64k.csv", [_row(i) for i in range(1000)] + [_row(1000, city="Pu\x00ne")])
    assert path.stat().st_size > 65536
    assert_clean_failure(settings, path, Fails("is binary"))


def test_a_line_longer_than_the_read_block_is_one_quarantined_record(settings: Settings, tmp_path: Path) -> None:
    path = _write(tmp_path / "huge_line.csv", [_row(1), _row(2, city="P" * (17 << 20)), _row(3)])
    assert_loaded(settings, path, Loads(received=3, loaded=2, quarantined={"value_too_long": 1}))


@pytest.mark.slow
def test_a_file_of_one_million_rows_loads_and_reconciles(settings: Settings, tmp_path: Path) -> None:
    table = generate_transactions(DAY, GeneratorConfig(transactions=1_000_000, defect_rate=0.01))
    data = to_csv_bytes(table)
    path = tmp_path / "one_million.csv"
    path.write_bytes(data)
    records_in_file = data.count(b"\n") - 1  # generated values hold no newline

    outcome = run_day(settings, DAY, input_path=str(path))
    engine = engine_of(settings)
    with engine.connect() as conn:  # counted in the database: a million facts need not cross the wire
        facts, distinct_ids = conn.exec_driver_sql(
            "SELECT count(*), count(DISTINCT transaction_id) FROM fact_transactions WHERE date_key = %(k)s",
            {"k": date_key(DAY)},
        ).one()
        quarantined = dict(
            conn.exec_driver_sql(
                "SELECT reject_reason, count(*) FROM quarantine_rows WHERE run_date = %(d)s GROUP BY 1", {"d": DAY}
            ).all()
        )
        audit = conn.exec_driver_sql("SELECT * FROM load_audit WHERE run_date = %(d)s", {"d": DAY}).mappings().one()
    assert audit["rows_received"] == records_in_file == table.num_rows >= 1_000_000
    assert audit["rows_received"] == audit["rows_loaded"] + audit["rows_quarantined"] + audit["duplicates_dropped"]
    assert facts == distinct_ids == audit["rows_loaded"] == outcome.rows_loaded > 990_000
    assert quarantined == audit["quarantine_reasons"]
    assert set(audit["quarantine_reasons"]) <= {
        "missing_transaction_id",
        "amount_not_positive",
        "unknown_status",
        "duplicate_transaction_id",
    }
    assert audit["duplicates_dropped"] > 0


# --- the corpus, its expectations and its README stay in step -----------------------------------------


def test_every_corpus_entry_has_an_expected_outcome_and_a_readme_line() -> None:
    entries = set(corpus_entries())
    assert entries == set(EXPECTED), "every file in tests/data/bad_inputs has an expectation, and vice versa"
    readme = (CORPUS / "README.md").read_text(encoding="utf-8")
    listed = dict(re.findall(r"^\| `([^`]+)` \| (fails|loads) ", readme, flags=re.MULTILINE))
    assert set(listed) == entries, "README.md lists every corpus entry"
    for entry, outcome in listed.items():
        assert (outcome == "fails") == isinstance(EXPECTED[entry], Fails), entry

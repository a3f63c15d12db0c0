"""A day end to end through the plain step functions, into a real PostgreSQL.

The promises: re-running a day leaves the warehouse exactly as one run would; a changed source
replaces the day exactly (rows that left the source leave the warehouse, its quarantine too);
a re-run without --input replays what arrived; a bad landing keeps the last good state.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from flows.contract import RAW_COLUMNS
from flows.errors import ContractError, QualityGateFailed
from flows.settings import Settings
from flows.steps import engine_of, lake_of, run_day
from flows.warehouse.load import fact_checksum

DAY = date(2024, 3, 5)
OTHER_DAY = date(2024, 3, 4)


def line(tx: str, amount: str = "10.00", day: date = DAY, **fields: str) -> str:
    values = {
        "transaction_id": tx,
        "transaction_ts": f"{day}T10:00:00Z",
        "customer_id": "CUST-000001",
        "city": "Pune",
        "state": "Maharashtra",
        "channel": "UPI",
        "amount": amount,
        "status": "SUCCESS",
        "processing_time_s": "1.5",
        **fields,
    }
    return ",".join(values[c] for c in RAW_COLUMNS)


def landed(path: Path, *lines: str) -> str:
    path.write_text("\n".join([",".join(RAW_COLUMNS), *lines]) + "\n", encoding="utf-8")
    return str(path)


ACCOUNTING = (
    "status",
    "content_sha256",
    "rows_received",
    "rows_loaded",
    "rows_quarantined",
    "quarantine_reasons",
    "duplicates_dropped",
)


def snapshot(engine: sa.Engine, day: date) -> dict[str, Any]:
    """What the warehouse holds for one day - rows, quarantine, accounting - comparable with ==."""
    with engine.connect() as conn:
        facts = conn.exec_driver_sql(
            "SELECT transaction_id, amount, status FROM fact_transactions WHERE date_key = %(k)s ORDER BY 1",
            {"k": int(day.strftime("%Y%m%d"))},
        ).all()
        quarantine = conn.exec_driver_sql(
            "SELECT source_file, source_row, reject_reason, transaction_id, raw_record::text FROM quarantine_rows"
            " WHERE run_date = %(d)s ORDER BY 1, 2",
            {"d": day},
        ).all()
        audit = (
            conn.exec_driver_sql(f"SELECT {', '.join(ACCOUNTING)} FROM load_audit WHERE run_date = %(d)s", {"d": day})
            .mappings()
            .first()
        )
    return {
        "checksum": fact_checksum(engine, day, day),
        "facts": [tuple(r) for r in facts],
        "quarantine": [tuple(r) for r in quarantine],
        "audit": dict(audit) if audit else None,
    }


def last_attempt(engine: sa.Engine, day: date) -> dict[str, Any]:
    """The day's latest attempt (load_runs is the append-only history behind load_audit)."""
    with engine.connect() as conn:
        row = (
            conn.exec_driver_sql(
                "SELECT status, source, content_sha256, message FROM load_runs"
                " WHERE run_date = %(d)s ORDER BY id DESC LIMIT 1",
                {"d": day},
            )
            .mappings()
            .first()
        )
    return dict(row)


HELD = ("checksum", "facts", "quarantine")  # what the warehouse holds for a day, audit aside


def assert_reconciles(state: dict[str, Any]) -> None:
    audit = state["audit"]
    assert audit["status"] == "loaded"
    assert audit["rows_received"] == audit["rows_loaded"] + audit["rows_quarantined"] + audit["duplicates_dropped"]
    assert audit["rows_loaded"] == len(state["facts"]) == state["checksum"][0]
    assert audit["rows_quarantined"] == len(state["quarantine"])


@pytest.fixture
def defective(settings: Settings) -> Settings:
    """Synthetic days with some of every defect, so quarantine and duplicates are exercised."""
    return settings.model_copy(update={"defect_rate": 0.1, "transactions_per_day": 300})


def test_running_a_day_twice_leaves_the_warehouse_identical(defective: Settings) -> None:
    engine = engine_of(defective)
    first_outcome = run_day(defective, DAY)
    first = snapshot(engine, DAY)
    assert_reconciles(first)
    assert first["quarantine"] and first["audit"]["duplicates_dropped"] > 0

    second_outcome = run_day(defective, DAY)
    assert snapshot(engine, DAY) == first
    assert last_attempt(engine, DAY)["source"] == "replay"
    assert second_outcome == replace(first_outcome, seconds=second_outcome.seconds)

    run_day(defective, DAY, regenerate=True)  # a fresh synthetic day is the same bytes again
    assert snapshot(engine, DAY)["checksum"] == first["checksum"]
    with engine.connect() as conn:
        runs = conn.exec_driver_sql("SELECT count(*) FROM load_runs WHERE run_date = %(d)s", {"d": DAY}).scalar()
    assert runs == 3, "every attempt is in the history, the day only once in the warehouse"


def test_a_changed_source_replaces_the_day_exactly(settings: Settings, tmp_path: Path) -> None:
    engine = engine_of(settings)
    run_day(settings, OTHER_DAY, input_path=landed(tmp_path / "other.csv", line("X-1", day=OTHER_DAY)))
    other_before = snapshot(engine, OTHER_DAY)

    run_day(
        settings,
        DAY,
        input_path=landed(
            tmp_path / "v1.csv",
            line("A"),
            line("B", "20.00"),
            line("C"),
            line("BAD-1", "-1"),
            line("BAD-2", "abc"),
        ),
    )
    v1 = snapshot(engine, DAY)
    assert [f[0] for f in v1["facts"]] == ["A", "B", "C"]
    assert sorted(q[2] for q in v1["quarantine"]) == ["amount_not_positive", "invalid_amount"]

    outcome = run_day(
        settings,
        DAY,
        input_path=landed(
            tmp_path / "v2.csv",
            line("B", "25.50", status="FAILED"),
            line("D"),
            line("BAD-3", channel="Cash"),
        ),
    )
    v2 = snapshot(engine, DAY)
    assert v2["facts"] == [("B", Decimal("25.50"), "FAILED"), ("D", Decimal("10.00"), "SUCCESS")], (
        "A and C left the source, so they left the warehouse; B carries its new content"
    )
    assert [(q[2], q[3]) for q in v2["quarantine"]] == [("unknown_channel", "BAD-3")], "quarantine replaced"
    assert v2["audit"]["quarantine_reasons"] == {"unknown_channel": 1}
    assert v2["audit"]["content_sha256"] != v1["audit"]["content_sha256"]
    assert (outcome.rows_received, outcome.rows_loaded, outcome.rows_quarantined) == (3, 2, 1)
    assert_reconciles(v2)
    assert snapshot(engine, OTHER_DAY) == other_before, "other days are untouched"


def test_an_empty_source_is_blocked_and_never_empties_a_loaded_day(settings: Settings, tmp_path: Path) -> None:
    engine = engine_of(settings)
    run_day(settings, DAY, input_path=landed(tmp_path / "v1.csv", line("A"), line("B"), line("C", "0")))
    before = snapshot(engine, DAY)
    with pytest.raises(QualityGateFailed, match="expect_table_row_count_to_be_between"):
        run_day(settings, DAY, input_path=landed(tmp_path / "v2.csv"))
    after = snapshot(engine, DAY)
    assert after["facts"] == before["facts"] and after["checksum"] == before["checksum"]
    assert after["audit"]["status"] == "blocked"


def test_a_rerun_without_input_replays_the_raw_partition(settings: Settings, tmp_path: Path) -> None:
    engine = engine_of(settings)
    run_day(settings, DAY, input_path=landed(tmp_path / "in.csv", line("L-1"), line("L-2", "7.77"), line("L-3", "x")))
    landed_state = snapshot(engine, DAY)
    raw = lake_of(settings).raw_path(DAY)
    raw_bytes = Path(raw).read_bytes()

    outcome = run_day(settings, DAY)  # no --input: the day's raw partition, not a synthetic day
    replayed = snapshot(engine, DAY)
    assert last_attempt(engine, DAY)["source"] == "replay"
    assert replayed["audit"]["content_sha256"] == landed_state["audit"]["content_sha256"]
    assert replayed["checksum"] == landed_state["checksum"]
    assert replayed["quarantine"] == landed_state["quarantine"]
    assert [f[0] for f in replayed["facts"]] == ["L-1", "L-2"]
    assert outcome.rows_received == 3
    assert Path(raw).read_bytes() == raw_bytes, "the raw partition is read, never rewritten, by a replay"


def test_a_bad_landing_keeps_the_last_good_state_of_the_day(settings: Settings, tmp_path: Path) -> None:
    engine = engine_of(settings)
    run_day(settings, DAY, input_path=landed(tmp_path / "good.csv", line("G-1"), line("G-2", "0")))
    good = snapshot(engine, DAY)

    binary = tmp_path / "bad.csv"
    binary.write_bytes(b"\x00\x01garbage\x00")
    with pytest.raises(ContractError, match="binary") as info:
        run_day(settings, DAY, input_path=str(binary))
    assert "\n" not in str(info.value)

    after = snapshot(engine, DAY)
    assert [after[k] for k in HELD] == [good[k] for k in HELD]
    assert after["audit"]["status"] == "failed"
    assert "binary" in last_attempt(engine, DAY)["message"]
    assert after["audit"]["rows_loaded"] == good["audit"]["rows_loaded"], "counts still describe the rows held"

    run_day(settings, DAY, input_path=landed(tmp_path / "fixed.csv", line("G-1"), line("G-3")))
    assert [f[0] for f in snapshot(engine, DAY)["facts"]] == ["G-1", "G-3"]


def test_the_day_writes_processed_and_quarantine_parquet(settings: Settings, tmp_path: Path) -> None:
    outcome = run_day(
        settings,
        DAY,
        input_path=landed(
            tmp_path / "in.csv",
            line("P-1"),
            line("P-2"),
            line("P-2"),
            line("P-3", status="MAYBE"),
            "broken,row",
        ),
    )
    lake = lake_of(settings)
    processed = pq.read_table(lake.processed_path(DAY))
    rejected = pq.read_table(lake.quarantine_path(DAY))
    assert processed.column("transaction_id").to_pylist() == ["P-1", "P-2"]
    assert sorted(rejected.column("reject_reason").to_pylist()) == ["malformed_record", "unknown_status"]
    assert sorted(rejected.column("source_row").to_pylist()) == [4, 5]
    counts = (outcome.rows_received, outcome.rows_loaded, outcome.rows_quarantined, outcome.duplicates_dropped)
    assert counts == (5, 2, 2, 1)
    assert_reconciles(snapshot(engine_of(settings), DAY))


@pytest.mark.parametrize("landed_day, synced", [(False, True), (True, False)])
def test_a_synthetic_day_syncs_the_customer_feed_first_a_landed_day_leaves_it(
    settings: Settings, tmp_path: Path, landed_day: bool, synced: bool
) -> None:
    source = landed(tmp_path / "in.csv", line("C-1")) if landed_day else None
    run_day(settings, DAY, input_path=source)
    lake = lake_of(settings)
    with engine_of(settings).connect() as conn:
        named = conn.exec_driver_sql("SELECT count(*) FROM dim_customer WHERE customer_name IS NOT NULL").scalar()
    assert lake.exists(lake.customers_path()) is synced
    assert (named == settings.customer_count) is synced, "dim_customer holds the feed's customers"


@pytest.mark.parametrize(
    "first, last, expected",
    [
        (date(2024, 5, 10), date(2024, 5, 20), [date(2024, 5, 10)]),
        (date(2024, 5, 1), date(2024, 5, 31), [date(2024, 5, 1)]),
        (date(2024, 4, 20), date(2024, 6, 2), [date(2024, 4, 20), date(2024, 5, 1), date(2024, 6, 1)]),
    ],
)
def test_a_range_applies_the_customer_feed_of_its_first_day_and_of_every_month_it_enters(
    first: date, last: date, expected: list[date]
) -> None:
    from flows.steps import feed_days

    assert feed_days(first, last) == expected


@pytest.mark.parametrize(
    ("rows_a_day", "asked", "expected"),
    [
        (500, None, 4),  # small days: chunks of 30 days, the default concurrency of 4
        (1_000_000, None, 2),  # a million-row day takes ~1.3 GiB in flight: two at a time
        (1_000_000, 8, 2),  # an explicit concurrency is capped the same way
        (5_000_000, None, 1),  # a day bigger than the budget still runs, alone
    ],
)
def test_a_backfill_keeps_the_rows_in_flight_within_its_budget(
    rows_a_day: int, asked: int | None, expected: int
) -> None:
    from flows.steps import chunks_at_once, chunks_of

    settings = Settings(transactions_per_day=rows_a_day, data_dir="unused", warehouse_url="postgresql://unused/x")
    days = [date(2024, 1, 1) + timedelta(days=i) for i in range(100)]
    chunk = max(map(len, chunks_of(settings, days)))
    assert chunks_at_once(settings, chunk, asked) == expected
    assert chunks_at_once(settings, chunk, asked) * chunk * rows_a_day <= max(
        settings.backfill_rows_in_flight, rows_a_day
    )

"""The Prefect flows end to end against a real Prefect API and a real PostgreSQL."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
from pydantic import SecretStr

from flows.settings import Settings
from flows.steps import engine_of
from flows.warehouse.load import fact_checksum
from tests.conftest import settled_task_runs, write_csv

DAY = date(2024, 3, 5)


def _row(i: int, **overrides: str) -> dict[str, str]:
    row = {
        "transaction_id": f"L-{i:05d}",
        "transaction_ts": f"2024-03-05T10:{i % 60:02d}:00Z",
        "customer_id": f"C{i % 7}",
        "city": "Pune",
        "state": "Maharashtra",
        "channel": "UPI",
        "amount": f"{100 + i}.50",
        "status": "SUCCESS",
        "processing_time_s": "1.250",
    }
    row.update(overrides)
    return row


@pytest.fixture
def wh(settings: Settings) -> sa.Engine:
    return engine_of(settings)


def _day_counts(engine: sa.Engine, day: date) -> tuple[int, int, dict]:
    key = int(day.strftime("%Y%m%d"))
    with engine.connect() as conn:
        facts = conn.exec_driver_sql(
            "SELECT count(*) FROM fact_transactions WHERE date_key = %(k)s", {"k": key}
        ).scalar()
        quarantined = conn.exec_driver_sql(
            "SELECT count(*) FROM quarantine_rows WHERE run_date = %(d)s", {"d": day}
        ).scalar()
        audit = conn.exec_driver_sql("SELECT * FROM load_audit WHERE run_date = %(d)s", {"d": day}).mappings().one()
    return facts, quarantined, dict(audit)


def test_daily_flow_rerun_is_idempotent_and_a_changed_source_replaces_the_day(
    prefect_api: None, settings: Settings, wh: sa.Engine, tmp_path: Path
) -> None:
    from flows.pipeline import daily_pipeline

    first = daily_pipeline(run_date=DAY)
    assert first["status"] == "loaded" and first["rows_loaded"] == settings.transactions_per_day
    checksum = fact_checksum(wh)
    assert checksum[0] == settings.transactions_per_day

    daily_pipeline(run_date=DAY)
    assert fact_checksum(wh) == checksum, "re-running a day must leave the warehouse exactly as one run"

    landed = write_csv(tmp_path / "landed.csv", [_row(i) for i in range(10)])
    changed = daily_pipeline(run_date=DAY, input_path=str(landed))
    assert changed["rows_loaded"] == 10
    facts, _, audit = _day_counts(wh, DAY)
    assert facts == 10, "rows that left the source leave the warehouse"
    assert audit["rows_received"] == 10 and audit["status"] == "loaded"
    assert audit["flow_run_id"], "the audit names the flow run that loaded the day"
    with wh.connect() as conn:
        ids = {r[0] for r in conn.exec_driver_sql("SELECT transaction_id FROM fact_transactions")}
        rollup = conn.exec_driver_sql("SELECT sum(txn_count), sum(revenue_sum) FROM agg_daily_region").one()
        revenue = conn.exec_driver_sql("SELECT sum(revenue) FROM fact_transactions").scalar()
    assert ids == {f"L-{i:05d}" for i in range(10)}
    assert rollup == (10, revenue), "the rollups follow the facts in the same transaction"


def test_landed_file_with_bad_rows_loads_the_good_ones_and_reconciles(
    prefect_api: None, settings: Settings, wh: sa.Engine, tmp_path: Path
) -> None:
    from flows.pipeline import daily_pipeline

    rows = [_row(i) for i in range(20)]
    rows += [
        _row(100, amount="-5.00"),
        _row(101, transaction_id=""),
        _row(102, status="MAYBE"),
        _row(103, channel="Cash"),
        _row(104, transaction_ts="2024-03-06T00:00:01Z"),
        _row(3),  # exact duplicate of row 3
        _row(4, amount="999.99"),  # same id as row 4, different content: this later one wins
    ]
    landed = write_csv(tmp_path / "day.csv", rows)
    outcome = daily_pipeline(run_date=DAY, input_path=str(landed))

    facts, quarantined, audit = _day_counts(wh, DAY)
    assert facts == 20
    assert quarantined == 6
    assert (
        audit["rows_received"]
        == len(rows)
        == audit["rows_loaded"] + audit["rows_quarantined"] + audit["duplicates_dropped"]
    )
    assert audit["duplicates_dropped"] == 1
    assert audit["quarantine_reasons"] == {
        "amount_not_positive": 1,
        "missing_transaction_id": 1,
        "unknown_status": 1,
        "unknown_channel": 1,
        "timestamp_outside_day": 1,
        "duplicate_transaction_id": 1,
    }
    assert outcome["rows_quarantined"] == 6
    with wh.connect() as conn:
        amount = conn.exec_driver_sql("SELECT amount FROM fact_transactions WHERE transaction_id = 'L-00004'").scalar()
    assert str(amount) == "999.99"


def test_backfill_loads_every_day_with_one_task_run_per_day(
    prefect_api: None, settings: Settings, wh: sa.Engine
) -> None:
    from flows.pipeline import backfill_pipeline

    state = backfill_pipeline(start=date(2024, 3, 1), end=date(2024, 3, 3), concurrency=2, return_state=True)
    outcomes = state.result()
    assert [o["status"] for o in outcomes] == ["loaded"] * 3
    assert fact_checksum(wh)[0] == 3 * settings.transactions_per_day

    days = ("day-2024-03-01", "day-2024-03-02", "day-2024-03-03")
    names = {run.name for run in settled_task_runs(state.state_details.flow_run_id, days)}
    assert set(days) <= names


def test_the_daily_flow_runs_the_days_steps_one_task_run_each(prefect_api: None, settings: Settings) -> None:
    from flows.pipeline import daily_pipeline

    state = daily_pipeline(run_date=DAY, return_state=True)
    assert state.is_completed()
    runs = sorted(settled_task_runs(state.state_details.flow_run_id), key=lambda run: run.expected_start_time)
    steps = [r.name.rsplit("-", 1)[0] for r in runs if not r.name.startswith("lineage-")]
    assert steps == ["customers", "ingest", "validate-raw", "transform", "validate-processed", "load"], (
        "the steps of steps.run_day, in its order, the customer feed first"
    )


def test_a_batched_backfill_blocks_its_bad_day_alone_and_equals_the_day_by_day_load(
    prefect_api: None, gated_settings: Settings, monkeypatch: pytest.MonkeyPatch, pg_admin_url: str
) -> None:
    """Six days in chunks of three, the second day's file with negative amounts: that day is blocked
    by its own gate (its own load_audit row, its own Failed task run), the five others load with
    their own accounting, and the warehouse equals the one the same files give loaded day by day."""
    from flows import steps
    from flows.errors import QualityGateFailed
    from flows.generate import days_between
    from flows.pipeline import backfill_pipeline
    from flows.settings import get_settings
    from tests.conftest import _create_database, _drop_database
    from tests.warehouse.conftest import warehouse_state

    monkeypatch.setenv("BAP_BACKFILL_CHUNK_DAYS", "3")
    get_settings.cache_clear()
    settings = get_settings()
    days = days_between(date(2024, 3, 1), date(2024, 3, 6))
    bad = days[1]
    steps.ingest(settings, bad, scenario="negative-amounts")  # the backfill replays this file

    state = backfill_pipeline(start=days[0], end=days[-1], return_state=True)
    assert state.is_failed(), "a blocked day fails the backfill's run, naming the day"
    assert str(bad) in state.message
    rows = {row["run_date"]: row for row in steps.status_rows(settings, days[0], days[-1])}
    assert rows[bad]["status"] == "blocked"
    for day in days:
        if day == bad:
            continue
        audit = rows[day]
        assert audit["status"] == "loaded" and audit["rows_received"] == settings.transactions_per_day
        assert audit["rows_received"] == (
            audit["rows_loaded"] + audit["rows_superseded"] + audit["rows_quarantined"] + audit["duplicates_dropped"]
        )

    runs = settled_task_runs(state.state_details.flow_run_id, tuple(f"day-{day}" for day in days))
    by_name = {run.name: run.state_type.value for run in runs if run.state_type is not None}
    assert {"days-2024-03-01..2024-03-03", "days-2024-03-04..2024-03-06"} <= set(by_name), "two chunks"
    assert {day: by_name[f"day-{day}"] for day in days} == {
        day: "FAILED" if day == bad else "COMPLETED" for day in days
    }, "each day is its own task run, Failed when blocked"

    other = _create_database(pg_admin_url)
    try:
        day_by_day = settings.model_copy(update={"warehouse_url": SecretStr(other)})
        steps.sync_customer_history(day_by_day, days[0], days[-1])
        for day in days:
            try:
                steps.run_day(day_by_day, day, sync_customers=False)
            except QualityGateFailed:
                assert day == bad
        assert warehouse_state(engine_of(settings)) == warehouse_state(engine_of(day_by_day))
    finally:
        steps.dispose_engines()
        _drop_database(pg_admin_url, other)

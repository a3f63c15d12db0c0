"""Quality gates in the running pipeline: scenarios trip their expectations, critical failures keep
the warehouse's last good state, results land in dq_results, artifacts and Data Docs exist."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from flows.errors import QualityGateFailed
from flows.settings import Settings
from flows.steps import engine_of
from flows.warehouse.load import fact_checksum

DAY = date(2024, 4, 9)

SCENARIOS = [
    ("duplicate-storm", "raw", "expect_column_values_to_be_unique:transaction_id", "warning"),
    ("null-ids", "raw", "expect_column_values_to_not_be_null:transaction_id", "critical"),
    ("negative-amounts", "raw", "expect_column_values_to_match_regex:amount", "critical"),
    ("status-drift", "raw", "expect_column_values_to_match_regex:status", "critical"),
    ("volume-drop", "raw", "expect_table_row_count_to_be_between", "critical"),
    ("failure-rate-surge", "processed", "expect_column_values_to_be_in_set:status[failure_rate]", "warning"),
]


def _dq(engine: sa.Engine, day: date) -> dict[tuple[str, str], tuple[bool, str]]:
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT suite, expectation, success, severity FROM dq_results WHERE run_date = %(d)s", {"d": day}
        ).all()
    return {(r[0], r[1]): (r[2], r[3]) for r in rows}


def test_a_clean_day_passes_every_suite_and_its_history_is_recorded(
    prefect_api: None, gated_settings: Settings
) -> None:
    from flows.pipeline import daily_pipeline

    outcome = daily_pipeline(run_date=DAY)
    assert outcome["status"] == "loaded" and outcome["quality_warnings"] == []
    engine = engine_of(gated_settings)
    results = _dq(engine, DAY)
    assert {suite for suite, _ in results} == {"raw", "processed", "warehouse"}
    assert all(success for success, _ in results.values()), [k for k, v in results.items() if not v[0]]
    with engine.connect() as conn:
        run_ids = conn.exec_driver_sql("SELECT DISTINCT run_id FROM dq_results").scalars().all()
        audit_run = conn.exec_driver_sql("SELECT flow_run_id FROM load_audit").scalar()
    assert run_ids == [audit_run], "every result names the flow run that validated the day"


@pytest.mark.parametrize("scenario, suite, expectation, severity", SCENARIOS)
def test_each_scenario_trips_its_expectation_and_critical_ones_keep_the_last_good_day(
    prefect_api: None, gated_settings: Settings, scenario: str, suite: str, expectation: str, severity: str
) -> None:
    from flows.pipeline import daily_pipeline

    daily_pipeline(run_date=DAY)
    engine = engine_of(gated_settings)
    before = fact_checksum(engine)

    if severity == "critical":
        with pytest.raises(QualityGateFailed) as failure:
            daily_pipeline(run_date=DAY, scenario=scenario)
        assert expectation in str(failure.value) and "not loaded" in str(failure.value)
        assert fact_checksum(engine) == before, "a blocked day keeps the warehouse's last good state"
        with engine.connect() as conn:
            status = conn.exec_driver_sql("SELECT status FROM load_audit WHERE run_date = %(d)s", {"d": DAY}).scalar()
        assert status == "blocked"
    else:
        outcome = daily_pipeline(run_date=DAY, scenario=scenario)
        assert outcome["status"] == "loaded"
        assert any(expectation in w for w in outcome["quality_warnings"])
    assert _dq(engine, DAY)[(suite, expectation)] == (False, severity)


def test_a_run_publishes_its_quality_summary_accounting_and_data_docs_link(
    prefect_api: None, gated_settings: Settings
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    from flows.pipeline import daily_pipeline

    state = daily_pipeline(run_date=DAY, return_state=True)
    key = f"day-{DAY.isoformat()}"

    async def read() -> dict[str, object]:
        async with get_client() as client:
            artifacts = await client.read_artifacts(
                artifact_filter=ArtifactFilter(
                    flow_run_id=ArtifactFilterFlowRunId(any_=[state.state_details.flow_run_id])
                )
            )
            return {a.key: a for a in artifacts}

    artifacts = asyncio.run(read())
    assert {f"{key}-quality", f"{key}-accounting", f"{key}-data-docs"} <= set(artifacts)
    quality = artifacts[f"{key}-quality"]
    assert "raw suite: passed" in quality.data and "processed suite: passed" in quality.data
    assert "warehouse suite: passed" in quality.data
    assert "received" in str(artifacts[f"{key}-accounting"].data)
    assert "/data-docs/" in str(artifacts[f"{key}-data-docs"].data)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_bap_docs_builds_the_days_validations_and_says_where_to_browse_them(
    prefect_api: None, gated_settings: Settings
) -> None:
    from flows.pipeline import daily_pipeline

    daily_pipeline(run_date=DAY)
    done = subprocess.run(
        [sys.executable, "-m", "flows.cli", "docs"], env=dict(os.environ), capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "/data-docs/" in done.stdout, "the dashboard serves them"
    docs_dir = Path(gated_settings.data_dir) / "quality" / "data_docs"
    index = next(docs_dir.rglob("index.html"))
    assert DAY.isoformat() in index.read_text(encoding="utf-8"), "the index lists the day's validation"

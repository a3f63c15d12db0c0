"""An expected failure prints no traceback, anywhere.

Each kind runs through `bap run` as a user runs it (its own process, a real Prefect API, real
PostgreSQL): a file that breaks the contract, a failed quality gate, an unreachable warehouse, and
a warehouse that keeps failing until the retries run out. The command exits 1 with one line on
stderr; neither stdout nor stderr nor the run's log in Prefect holds a traceback; the flow run
ends Failed with that same line as its message. A programming error keeps its traceback.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import psycopg2
import pytest
import sqlalchemy as sa

from flows.errors import ContractError, QualityGateFailed, WarehouseUnavailable, expected_failure
from flows.warehouse.load import LOAD_LOCK
from tests.conftest import settled_task_runs, write_csv

UNREACHABLE = "postgresql://loader:pw@127.0.0.1:1/warehouse"


@pytest.fixture
def env(tmp_path: Path, warehouse_url: str, prefect_api: None) -> dict[str, str]:
    from prefect.settings import PREFECT_API_URL

    env = {k: v for k, v in os.environ.items() if not k.startswith(("BAP_", "PGOPTIONS"))}
    env.update(
        BAP_DATA_DIR=str(tmp_path / "data"),
        BAP_LOG_DIR=str(tmp_path / "logs"),
        BAP_WAREHOUSE_URL=warehouse_url,
        BAP_RETRY_DELAY_S="0",
        BAP_RETRY_ATTEMPTS="3",
        BAP_EXPECTED_ROWS_PER_DAY="0",
        PREFECT_API_URL=PREFECT_API_URL.value(),
    )
    return env


def bap_run(env: dict[str, str], day: date, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flows.cli", "run", "--date", day.isoformat(), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def landed_day(folder: Path, day: date, rows: int = 20) -> Path:
    return write_csv(
        folder / f"landed-{uuid.uuid4().hex[:6]}.csv",
        [
            {
                "transaction_id": f"T-{i}",
                "transaction_ts": f"{day}T10:{i % 60:02d}:00Z",
                "customer_id": f"C{i % 5}",
                "city": "Pune",
                "state": "Maharashtra",
                "channel": "UPI",
                "amount": f"{10 + i}.00",
                "status": "SUCCESS",
                "processing_time_s": "1.5",
            }
            for i in range(rows)
        ],
    )


@pytest.fixture
def load_lock_held(warehouse_url: str) -> Iterator[None]:
    """The test's own transaction holds the lock every day load takes first."""
    conn = psycopg2.connect(
        sa.engine.make_url(warehouse_url).set(drivername="postgresql").render_as_string(hide_password=False)
    )
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (LOAD_LOCK,))
        yield
    finally:
        conn.rollback()
        conn.close()


def _flow_run(day: date) -> Any:
    """The latest flow run of `day` (each case runs its own day)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.sorting import FlowRunSort

    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(sort=FlowRunSort.START_TIME_DESC, limit=200)
    matching = [r for r in runs if str(r.parameters.get("run_date")) == day.isoformat()]
    assert matching, f"no flow run of {day}"
    return matching[0]


def _prefect_view(flow_run_id: Any) -> tuple[list[str], dict[str, int]]:
    """The run's log as the Prefect UI shows it, and the run counts of its task runs by task."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    with get_client(sync_client=True) as client:
        logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])))
    tasks = settled_task_runs(flow_run_id)
    return [log.message for log in logs], {t.name.rsplit("-", 1)[0]: t.run_count for t in tasks}


def _assert_one_clean_line(result: subprocess.CompletedProcess[str], day: date) -> tuple[str, dict[str, int]]:
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stdout and "Traceback" not in result.stderr, result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("bap: error: "), result.stderr
    message = lines[0].removeprefix("bap: error: ")

    flow_run = _flow_run(day)
    assert flow_run.state.is_failed()
    assert flow_run.state.message == message, "the Prefect UI shows the line the terminal shows"
    logs, run_counts = _prefect_view(flow_run.id)
    assert message in logs, "the run's log says why it failed"
    assert not [log for log in logs if "Traceback" in log or "NoneType: None" in log]
    return message, run_counts


def test_a_file_that_breaks_the_contract(env: dict[str, str], tmp_path: Path) -> None:
    day = date(2024, 4, 1)
    landed = tmp_path / "landed.csv"
    landed.write_bytes(b"a;b;c\n1;2;3\n")
    message, runs = _assert_one_clean_line(bap_run(env, day, "--input", str(landed)), day)
    assert "another delimiter" in message
    assert runs["ingest"] == 1, "a bad file is not retried"


def test_a_failed_quality_gate(env: dict[str, str]) -> None:
    day = date(2024, 4, 2)
    gated = {k: v for k, v in env.items() if k != "BAP_EXPECTED_ROWS_PER_DAY"}  # the default gates
    message, runs = _assert_one_clean_line(bap_run(gated, day, "--scenario", "null-ids"), day)
    assert "quality gate failed" in message and "expect_column_values_to_not_be_null:transaction_id" in message
    assert "load" not in runs, "a blocked day never reaches the load"


def test_an_unreachable_warehouse(env: dict[str, str]) -> None:
    day = date(2024, 4, 3)
    result = bap_run(dict(env, BAP_WAREHOUSE_URL=UNREACHABLE, BAP_RETRY_ATTEMPTS="1"), day)
    message, runs = _assert_one_clean_line(result, day)
    assert "cannot reach the warehouse" in message and "BAP_WAREHOUSE_URL" in message
    assert "pw@" not in result.stdout + result.stderr
    assert runs["customers"] == 1, "the customer feed is synced first on a synthetic day"


def test_a_warehouse_failing_until_the_retries_run_out(
    env: dict[str, str], tmp_path: Path, load_lock_held: None
) -> None:
    day = date(2024, 4, 4)
    # Every load attempt gives up waiting for the held load lock: a transient warehouse error.
    result = bap_run(dict(env, PGOPTIONS="-c lock_timeout=300"), day, "--input", str(landed_day(tmp_path, day)))
    message, runs = _assert_one_clean_line(result, day)
    assert "the warehouse failed during the run (canceling statement due to lock timeout)" in message
    assert runs["load"] == 3, "the load ran BAP_RETRY_ATTEMPTS times"
    assert (runs["ingest"], runs["transform"]) == (1, 1)


@pytest.mark.parametrize(
    "exc, expected",
    [
        (ContractError("x.csv is empty"), "x.csv is empty"),
        (QualityGateFailed("quality gate failed for 2024-01-01"), "quality gate failed for 2024-01-01"),
        (
            sa.exc.OperationalError("SELECT 1", {}, psycopg2.OperationalError("server closed the connection\nmore")),
            "the warehouse failed during the run (server closed the connection); re-run the command once it is back",
        ),
        (psycopg2.InterfaceError("connection already closed"), "the warehouse failed during the run"),
        (KeyError("amount"), None),  # a programming error: it keeps its traceback
        (RuntimeError("bug"), None),
    ],
)
def test_what_counts_as_an_expected_failure(exc: Exception, expected: str | None) -> None:
    found = expected_failure(exc)
    if expected is None:
        assert found is None
    else:
        assert found is not None and expected in str(found) and "\n" not in str(found)
        assert isinstance(found, ContractError | QualityGateFailed | WarehouseUnavailable)

"""prefect.yaml on a real Prefect server, the way docs/orchestration.md tells a user to run it.

A real server (SQLite, own PREFECT_HOME) on a free port; `prefect work-pool create` and
`prefect deploy --all` from the repository root; `prefect worker start` as a separate process
whose environment carries the settings (a throwaway warehouse, a file:// data dir, the test's
webhook). Then deployment runs are triggered through the API and checked in the warehouse.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import psutil
import pytest
import sqlalchemy as sa

from flows.logs import tail
from flows.orchestration import prefect_api
from flows.orchestration.gaps import find_gaps
from flows.orchestration.local_stack import stop_workers
from flows.settings import Settings
from tests.conftest import settled_task_runs
from tests.orchestration.conftest import Webhook, serve_webhook

pytestmark = [pytest.mark.prefect_server, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
POOL = "bap-process"
PER_DAY = 200


@dataclass
class Deployed:
    api_url: str
    engine: sa.Engine
    lake: Path
    webhook: Webhook
    worker_log: Path
    timings: dict[str, float]

    def run(self, deployment: str, parameters: dict[str, Any], timeout_s: float = 180) -> tuple[Any, float]:
        started = time.monotonic()
        flow_run_id = prefect_api.create_run(self.api_url, deployment, parameters)
        try:
            run = prefect_api.wait_for_run(self.api_url, flow_run_id, timeout_s=timeout_s, poll_s=0.5)
        except TimeoutError as exc:
            raise AssertionError(f"{exc}; worker log:\n{tail(self.worker_log, 40)}") from None
        return run, time.monotonic() - started

    def audit(self, day: date) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.exec_driver_sql("SELECT * FROM load_audit WHERE run_date = %(d)s", {"d": day}).mappings().first()
        return dict(row) if row else None

    def facts(self, day: date) -> int:
        with self.engine.connect() as conn:
            return conn.exec_driver_sql(
                "SELECT count(*) FROM fact_transactions WHERE date_key = %(k)s", {"k": int(day.strftime("%Y%m%d"))}
            ).scalar_one()


def _prefect(args: list[str], env: dict[str, str], log: Path, timeout_s: float = 300) -> None:
    with open(log, "ab") as out:
        done = subprocess.run(
            [sys.executable, "-m", "prefect", *args],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=timeout_s,
        )
    assert done.returncode == 0, f"prefect {' '.join(args)} failed:\n{tail(log, 40)}"


@pytest.fixture(scope="module")
def module_webhook() -> Iterator[Webhook]:
    with serve_webhook() as hook:
        yield hook


@pytest.fixture(scope="module")
def deployed(
    prefect_server: tuple[Settings, str],
    module_warehouse_url: str,
    module_webhook: Webhook,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Deployed]:
    from flows.warehouse.connection import make_engine
    from flows.warehouse.migrate import apply_migrations

    _, api_url = prefect_server
    tmp = tmp_path_factory.mktemp("deployments")
    lake = tmp / "lake"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BAP_", "PREFECT_"))}
    env.update(
        PREFECT_API_URL=api_url,
        PREFECT_HOME=str(tmp / "client-home"),
        PREFECT_WORKER_QUERY_SECONDS="1",
        BAP_WAREHOUSE_URL=module_warehouse_url,
        BAP_DATA_DIR=f"file://{lake}",
        BAP_LOG_DIR=str(tmp / "logs"),
        BAP_TRANSACTIONS_PER_DAY=str(PER_DAY),
        BAP_RETRY_DELAY_S="0",
        BAP_ALERT_WEBHOOK_URL=module_webhook.url,
    )
    timings: dict[str, float] = {}
    log = tmp / "prefect-cli.log"
    t0 = time.monotonic()
    _prefect(["work-pool", "create", POOL, "--type", "process"], env, log)
    timings["work-pool create"] = time.monotonic() - t0
    t0 = time.monotonic()
    _prefect(["deploy", "--all"], env, log)
    timings["deploy --all"] = time.monotonic() - t0

    worker_log = tmp / "worker.log"
    since = datetime.now(UTC)
    t0 = time.monotonic()
    with open(worker_log, "ab") as out:
        worker = psutil.Popen(
            [sys.executable, "-m", "prefect", "worker", "start", "--pool", POOL, "--name", "test-worker"],
            env=env,
            cwd=tmp,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            start_new_session=True,
        )
    try:
        assert prefect_api.wait_for_worker(
            api_url, POOL, "test-worker", since=since, timeout_s=90, alive=lambda: worker.poll() is None
        ), tail(worker_log, 40)
        timings["worker start"] = time.monotonic() - t0
        engine = make_engine(module_warehouse_url)
        apply_migrations(engine)
        yield Deployed(api_url, engine, lake, module_webhook, worker_log, timings)
        engine.dispose()
    finally:
        stop_workers([worker], echo=lambda _: None)
        worker.wait()
    print("\n" + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()))


def test_prefect_deploy_all_registers_the_deployments_of_prefect_yaml(deployed: Deployed) -> None:
    found = {d.full_name: d for d in prefect_api.list_deployments(deployed.api_url)}
    assert set(found) == {
        "daily-pipeline/daily",
        "daily-pipeline/landed-file",
        "backfill-pipeline/backfill",
        "freshness-check/freshness",
        "fill-gaps/fill-gaps",
    }
    assert found["daily-pipeline/daily"].schedules == ["cron 0 2 * * * (UTC)"]
    assert all(d.work_pool == POOL for d in found.values())
    with prefect_api.client_for(deployed.api_url) as client:
        daily = client.read_deployment(found["daily-pipeline/daily"].id)
        assert daily.pull_steps == [{"prefect.deployments.steps.set_working_directory": {"directory": str(ROOT)}}]
        # the server's scheduler turns the cron into runs at 02:00 UTC
        deadline = time.monotonic() + 30
        scheduled = []
        while not scheduled and time.monotonic() < deadline:
            from prefect.client.schemas.filters import DeploymentFilter

            scheduled = client.read_flow_runs(deployment_filter=DeploymentFilter(id={"any_": [daily.id]}))
            time.sleep(1)
    assert scheduled, "the scheduler created the daily runs"
    assert {(r.expected_start_time.astimezone(UTC).hour, r.expected_start_time.minute) for r in scheduled} == {(2, 0)}


def test_the_daily_deployment_loads_the_day(deployed: Deployed) -> None:
    day = date(2024, 1, 15)
    run, seconds = deployed.run("daily", {"run_date": day})
    assert run.state.is_completed(), f"{run.state}\n{tail(deployed.worker_log, 40)}"
    audit = deployed.audit(day)
    assert audit["status"] == "loaded" and audit["flow_run_id"] == str(run.id)
    assert audit["rows_received"] == PER_DAY and deployed.facts(day) == audit["rows_loaded"] > 0
    assert (deployed.lake / "raw/2024/01/15/transactions.csv").exists(), "the file:// data dir is where the run wrote"
    deployed.timings["daily run (trigger to completed)"] = seconds


def test_the_backfill_deployment_loads_each_day_as_a_task_run_named_by_the_day(deployed: Deployed) -> None:
    start, end = date(2024, 1, 16), date(2024, 1, 18)
    run, seconds = deployed.run("backfill", {"start": start, "end": end, "concurrency": 2})
    assert run.state.is_completed(), f"{run.state}\n{tail(deployed.worker_log, 40)}"
    assert find_gaps(deployed.engine, start, end) == []
    assert all(deployed.facts(d) > 0 for d in (start, date(2024, 1, 17), end))
    with prefect_api.client_for(deployed.api_url) as client:
        days = ("day-2024-01-16", "day-2024-01-17", "day-2024-01-18")
        names = {t.name for t in settled_task_runs(run.id, days, client=client)}
    assert set(days) <= names
    deployed.timings["backfill run, 3 days"] = seconds


def test_the_fill_gaps_deployment_backfills_exactly_the_missing_days(deployed: Deployed) -> None:
    days = [date(2024, 3, d) for d in (1, 2, 3, 4)]
    with deployed.engine.begin() as conn:  # pretend 1 and 3 March are loaded already
        for day in (days[0], days[2]):
            conn.exec_driver_sql(
                "INSERT INTO load_audit (run_date, status, loaded_at) VALUES (%(d)s, 'loaded', now())", {"d": day}
            )
    run, _ = deployed.run("fill-gaps", {"start": days[0], "end": days[-1]})
    assert run.state.is_completed(), f"{run.state}\n{tail(deployed.worker_log, 40)}"
    assert [deployed.facts(d) > 0 for d in days] == [False, True, False, True]
    assert find_gaps(deployed.engine, days[0], days[-1]) == []


def test_a_failed_run_notifies_the_webhook(deployed: Deployed) -> None:
    before = len(deployed.webhook.received)
    run, _ = deployed.run("fill-gaps", {"start": date(2024, 5, 2), "end": date(2024, 5, 1)})
    assert run.state.is_failed()
    received = deployed.webhook.wait_for(before + 1)[before:]
    assert [p["kind"] for p in received] == ["run_failed"]
    assert received[0]["details"]["flow_run_id"] == str(run.id) and "starts after it ends" in received[0]["text"]


def test_a_failed_daily_run_is_recorded_and_notifies_the_webhook(deployed: Deployed, tmp_path: Path) -> None:
    from flows.pipeline import daily_pipeline

    junk = tmp_path / "landed.csv"
    junk.write_bytes(b"\x00\x01\x02 not a csv \xff" * 50)
    day = date(2024, 2, 1)
    before = len(deployed.webhook.received)
    run, _ = deployed.run("landed-file", {"run_date": day, "input_path": str(junk)})
    assert run.state.is_failed()
    assert deployed.audit(day)["status"] == "failed" and find_gaps(deployed.engine, day, day) == [day]
    assert daily_pipeline.on_failure_hooks, "the daily flow alerts on failure"
    received = deployed.webhook.wait_for(before + 1)[before:]
    assert received and received[0]["details"]["flow_run_id"] == str(run.id)

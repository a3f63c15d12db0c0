"""prefect.yaml declares what docs/orchestration.md promises: deployments, schedules, pool, pull step."""

from __future__ import annotations

import asyncio
import inspect
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SPEC = yaml.safe_load((ROOT / "prefect.yaml").read_text(encoding="utf-8"))
DEPLOYMENTS = {d["name"]: d for d in SPEC["deployments"]}


def _load_flow(entrypoint: str):
    from prefect.flows import load_flow_from_entrypoint

    path, _, func = entrypoint.partition(":")
    return load_flow_from_entrypoint(f"{ROOT / path}:{func}")


@pytest.mark.parametrize(
    "name, entrypoint, cron",
    [
        ("daily", "flows/pipeline.py:daily_pipeline", "0 2 * * *"),
        ("backfill", "flows/pipeline.py:backfill_pipeline", None),
        ("landed-file", "flows/pipeline.py:daily_pipeline", None),
        ("freshness", "flows/orchestration/ops_flows.py:freshness_check", "0 7 * * *"),
        ("fill-gaps", "flows/orchestration/ops_flows.py:fill_gaps", None),
    ],
)
def test_deployment_is_declared_with_its_entrypoint_and_schedule(name: str, entrypoint: str, cron: str | None) -> None:
    dep = DEPLOYMENTS[name]
    assert dep["entrypoint"] == entrypoint
    schedules = dep.get("schedules") or []
    assert [s["cron"] for s in schedules] == ([cron] if cron else [])
    assert all(s["timezone"] == "UTC" and s.get("active", True) for s in schedules)
    assert dep["work_pool"]["name"] == "bap-process"


def test_every_entrypoint_loads_and_its_default_parameters_fit_the_flow() -> None:
    for name, dep in DEPLOYMENTS.items():
        flow = _load_flow(dep["entrypoint"])
        accepted = inspect.signature(flow.fn).parameters
        assert set(dep.get("parameters") or {}) <= set(accepted), name


def test_daily_runs_yesterday_by_default_and_backfill_takes_a_range() -> None:
    daily = inspect.signature(_load_flow(DEPLOYMENTS["daily"]["entrypoint"]).fn).parameters
    assert daily["run_date"].default is None, "run_date unset = yesterday (UTC)"
    assert "run_date" not in (DEPLOYMENTS["daily"].get("parameters") or {})
    backfill = inspect.signature(_load_flow(DEPLOYMENTS["backfill"]["entrypoint"]).fn).parameters
    assert {"start", "end", "concurrency", "days"} <= set(backfill)
    assert "input_path" in inspect.signature(_load_flow(DEPLOYMENTS["landed-file"]["entrypoint"]).fn).parameters


@pytest.mark.parametrize(
    "now, next_run",
    [
        (datetime(2024, 1, 15, 13, 0, tzinfo=UTC), datetime(2024, 1, 16, 2, 0, tzinfo=UTC)),
        (datetime(2024, 1, 15, 1, 59, tzinfo=UTC), datetime(2024, 1, 15, 2, 0, tzinfo=UTC)),
        (
            datetime(2024, 3, 31, 2, 30, tzinfo=UTC),
            datetime(2024, 4, 1, 2, 0, tzinfo=UTC),
        ),  # EU DST day: UTC does not move
    ],
)
def test_the_daily_schedule_fires_at_two_utc(now: datetime, next_run: datetime) -> None:
    """Prefect's own schedule model (what the server's scheduler uses) computes the next run."""
    from prefect.server.schemas.schedules import CronSchedule

    (schedule,) = DEPLOYMENTS["daily"]["schedules"]
    cron = CronSchedule(cron=schedule["cron"], timezone=schedule["timezone"])
    dates = cron.get_dates(n=1, start=now)
    if inspect.isawaitable(dates):  # async in Prefect 3.9's server model
        dates = asyncio.run(dates)
    assert list(dates) == [next_run]


def test_flow_runs_start_in_the_checkout_that_was_deployed() -> None:
    (build,) = SPEC["build"]
    step = build["prefect.deployments.steps.run_shell_script"]
    assert step["script"] == "pwd" and step["id"] == "checkout"
    (pull,) = SPEC["pull"]
    assert pull["prefect.deployments.steps.set_working_directory"]["directory"] == "{{ checkout.stdout }}"


def test_no_setting_or_secret_is_baked_into_the_deployments() -> None:
    text = (ROOT / "prefect.yaml").read_text(encoding="utf-8")
    assert "postgresql://" not in text and "BAP_WAREHOUSE_URL:" not in text
    assert all(not (d["work_pool"].get("job_variables") or {}) for d in SPEC["deployments"])


def test_bap_up_creates_the_pools_prefect_yaml_uses() -> None:
    from flows.orchestration.prefect_api import work_pools_of

    assert work_pools_of(ROOT / "prefect.yaml") == ["bap-process"]

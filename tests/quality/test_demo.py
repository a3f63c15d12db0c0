"""`bap demo`'s backfill shows quality at work: random defects quarantined on most days, a
scenario every few weeks (two warn, one blocks), the blocked day re-run clean by the demo itself,
every day loaded in the end, and a message that says where to look. Run small (10 days x 50
rows) on real PostgreSQL, the real Prefect API and real GX."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from flows.demo import BLOCKING_SCENARIO, SCENARIO_CYCLE, plan_scenarios
from flows.generate import days_between
from flows.settings import Settings, get_settings

FIRST, LAST = date(2024, 3, 1), date(2024, 3, 10)
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.mark.parametrize(
    "days, every, expected",
    [
        (90, 21, {10: SCENARIO_CYCLE[0], 31: SCENARIO_CYCLE[1], 52: SCENARIO_CYCLE[2], 73: SCENARIO_CYCLE[0]}),
        (10, 21, {1: SCENARIO_CYCLE[0], 4: SCENARIO_CYCLE[1], 7: SCENARIO_CYCLE[2]}),
        (3, 21, {1: SCENARIO_CYCLE[0]}),
        (0, 21, {}),
    ],
)
def test_a_scenario_every_few_weeks(days: int, every: int, expected: dict[int, str]) -> None:
    span = days_between(FIRST, FIRST + timedelta(days=days - 1)) if days else []
    assert plan_scenarios(span, every) == {FIRST + timedelta(days=i): name for i, name in expected.items()}


def test_ninety_days_see_the_blocking_scenario_exactly_once() -> None:
    plan = plan_scenarios(days_between(FIRST, FIRST + timedelta(days=89)))
    assert list(plan.values()).count(BLOCKING_SCENARIO) == 1


@pytest.fixture
def small_demo(prefect_api: None, gated_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The default quality gates, 50 rows a day, no defect rate set: the demo's own applies."""
    monkeypatch.setenv("BAP_TRANSACTIONS_PER_DAY", "50")
    monkeypatch.delenv("BAP_DEFECT_RATE", raising=False)
    get_settings.cache_clear()
    return get_settings()


def _rows(settings: Settings, query: str, **params: Any) -> list[dict[str, Any]]:
    engine = sa.create_engine(settings.warehouse_url.get_secret_value(), poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        rows = [dict(r) for r in conn.exec_driver_sql(query, params).mappings()]
    engine.dispose()
    return rows


def _daily_runs_of(day: date) -> list[str]:
    """Final state names of the daily-pipeline runs of `day`, oldest first."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.sorting import FlowRunSort

    with get_client(sync_client=True) as client:  # the newest 200 of the shared server, then oldest first
        runs = client.read_flow_runs(sort=FlowRunSort.START_TIME_DESC, limit=200)
    return [r.state_name for r in reversed(runs) if str(r.parameters.get("run_date")) == day.isoformat()]


def test_the_demo_loads_every_day_with_defects_and_fixes_the_blocked_one(small_demo: Settings) -> None:
    from flows.demo import run_demo

    report = run_demo(FIRST, LAST, concurrency=2)
    plan = plan_scenarios(days_between(FIRST, LAST))
    blocked_day = next(day for day, name in plan.items() if name == BLOCKING_SCENARIO)

    audit = _rows(small_demo, "SELECT run_date, status, quarantine_reasons FROM load_audit ORDER BY run_date")
    assert [(r["run_date"], r["status"]) for r in audit] == [(d, "loaded") for d in days_between(FIRST, LAST)]
    assert report.loaded == 10 and blocked_day in report.fixed
    assert get_settings().defect_rate == 0.0  # the demo's rate does not outlive it

    by_day = {s.day: s for s in report.scenario_days}
    assert by_day[blocked_day].result.startswith("blocked: raw suite: expect_column_values_to_match_regex:status")
    surge = next(day for day, name in plan.items() if name == "failure-rate-surge")
    assert by_day[surge].result.startswith("loaded, 1 warning(s): processed: expect_column_values_to_be_in_set:status")
    assert _daily_runs_of(blocked_day) == ["Failed", "Completed"]  # the Prefect UI shows both

    # The Quality tab's material: failed warnings on the scenario days, quarantined rows by reason.
    failed = _rows(
        small_demo,
        "SELECT run_date, suite, expectation FROM dq_results WHERE NOT success AND severity = 'warning'",
    )
    assert {(r["run_date"], r["suite"]) for r in failed} >= {(surge, "processed")}
    reasons = _rows(small_demo, "SELECT reject_reason, count(*) AS n FROM quarantine_rows GROUP BY reject_reason")
    assert len(reasons) >= 2, reasons  # random defects of several kinds, not one scenario
    assert sum(1 for r in audit if r["quarantine_reasons"]) >= 3  # most days, not only the scenario days

    message = report.where_to_look("http://127.0.0.1:7860")
    assert all(str(day) in message for day in plan) and "Quality tab" in message and "/data-docs/" in message
    _the_quality_tab_tells_it_in_chromium(small_demo)


def _the_quality_tab_tells_it_in_chromium(settings: Settings) -> None:
    """The dashboard over the demo's warehouse, in a real browser: the Quality tab charts the pass
    rate and the quarantined rows by reason, and lists the failed expectations with real headers."""
    from playwright.sync_api import sync_playwright

    from ui.app import serve

    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is not installed (make test installs it)")
    server = serve(settings, port=0, block=False)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(server.url)
            page.get_by_role("tab", name="Quality").click()
            page.wait_for_selector("#chart-pass-rate .gtitle")
            page.wait_for_selector("#chart-quarantine-reasons .bars path")
            page.wait_for_selector("#q-failures table")
            headers = page.eval_on_selector_all("#q-failures th", "els => els.map(e => e.textContent.trim())")
            assert any("Expectation" in h for h in headers) and not {"1", "2", "3"} & set(headers)
            assert "expect_column_values_to_be_in_set" in page.inner_text("#q-failures")  # the surge's warning
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "demo-quality-tab.png"), full_page=True)
            browser.close()
    finally:
        server.close()

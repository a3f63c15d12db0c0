"""The dashboard in a real Chromium (Debian's, driven by Playwright) against a served app.

The page loads, its KPI cards show what the warehouse holds, a channel change redraws KPIs and
charts, the region -> state -> city cascade narrows, the Data Docs link works and the Quality tab
shows the history. Screenshots (desktop, phone, quality) go to test-artifacts/.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from flows.settings import Settings

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
LAST_DAY = date(2024, 3, 31)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists() and not shutil.which("chromium"):
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    executable = str(CHROMIUM) if CHROMIUM.exists() else shutil.which("chromium")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def served(module_warehouse_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, str]]:
    from benchmarks.bench_dashboard import build_warehouse
    from ui.app import serve

    build_warehouse(module_warehouse_url, facts=45_000, days=120, last_day=LAST_DAY, with_quality=True)
    writer = sa.create_engine(module_warehouse_url, poolclass=sa.pool.NullPool)
    with writer.begin() as conn:  # the last file carried late records and corrections of the day before
        conn.exec_driver_sql(
            "UPDATE load_audit SET rows_received = rows_loaded + 7, rows_loaded = rows_loaded + 5,"
            " rows_loaded_earlier = 5, rows_corrections = 2, rows_quarantined = 1, duplicates_dropped = 1"
            " WHERE run_date = %(d)s",
            {"d": LAST_DAY},
        )
        conn.exec_driver_sql(
            "UPDATE load_audit SET changed_by = %(d)s, changed_at = now() WHERE run_date = %(d)s - 1", {"d": LAST_DAY}
        )
    writer.dispose()
    root = tmp_path_factory.mktemp("dash")
    docs = root / "data_docs"
    docs.mkdir()
    (docs / "index.html").write_text("<html><body><h1>Data Docs index</h1></body></html>")
    settings = Settings(warehouse_url=module_warehouse_url, data_dir=str(root / "data"), dashboard_refresh_s=600)
    server = serve(settings, port=0, data_docs_dir=docs, block=False)
    yield server, module_warehouse_url
    server.close()


def warehouse_kpis(url: str, start: date, end: date, channel: str | None = None) -> dict[str, float]:
    """The KPIs straight from the fact table (not the rollups the dashboard reads)."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        row = conn.exec_driver_sql(
            """
            SELECT count(*), count(*) FILTER (WHERE f.status = 'FAILED'),
                   coalesce(sum(f.revenue) FILTER (WHERE f.status = 'SUCCESS'), 0), sum(f.processing_time_s)
            FROM fact_transactions AS f JOIN dim_channel AS ch ON ch.channel_key = f.channel_key
            WHERE f.date_key BETWEEN %(s)s AND %(e)s AND (%(c)s::text IS NULL OR ch.channel_name = %(c)s::text)
            """,
            {"s": int(f"{start:%Y%m%d}"), "e": int(f"{end:%Y%m%d}"), "c": channel},
        ).one()
        states = {}
        for region, state, city in conn.exec_driver_sql("SELECT region, state, city_name FROM dim_city"):
            states.setdefault(region, {}).setdefault(state, set()).add(city)
    engine.dispose()
    count, failed, revenue, seconds = row
    return {
        "txn_count": count,
        "failure_rate": failed / count,
        "revenue": float(revenue),
        "avg_processing_s": float(seconds) / count,
        "geo": states,
    }


def page_kpis(page: Any) -> dict[str, str]:
    return page.eval_on_selector_all(
        "[data-kpi]", "els => Object.fromEntries(els.map(e => [e.dataset.kpi, e.dataset.value]))"
    )


def options(page: Any, elem_id: str) -> list[str]:
    box = page.locator(f"#{elem_id} input")
    box.click()
    page.wait_for_selector("[role=option]")
    names = page.eval_on_selector_all("[role=option]", "els => els.map(e => e.getAttribute('aria-label'))")
    page.keyboard.press("Escape")
    page.locator(".bap-title h1").click()  # blur, so the next click opens the list again
    return names


def choose(page: Any, elem_id: str, value: str) -> None:
    box = page.locator(f"#{elem_id} input")
    box.click()
    page.locator(f"[role=option][aria-label='{value}']").click()


def chart_title(page: Any, elem_id: str) -> str:
    return page.text_content(f"#{elem_id} .gtitle") or ""


def assert_kpis_match(shown: dict[str, str], expected: dict[str, float]) -> None:
    assert int(shown["txn_count"]) == expected["txn_count"]
    assert float(shown["revenue"]) == pytest.approx(expected["revenue"], abs=0.01)
    assert float(shown["failure_rate"]) == pytest.approx(expected["failure_rate"], abs=1e-6)
    assert float(shown["avg_processing_s"]) == pytest.approx(expected["avg_processing_s"], abs=1e-6)


def test_dashboard_in_a_real_browser(browser: Any, served: tuple[Any, str]) -> None:
    server, url = served
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(server.url + "/")

    # The page loads with the last 30 days up to the last loaded day; KPIs match the facts.
    page.wait_for_selector("[data-kpi='txn_count'][data-value]:not([data-value=''])", timeout=60_000)
    start = LAST_DAY - timedelta(days=29)
    expected = warehouse_kpis(url, start, LAST_DAY)
    assert_kpis_match(page_kpis(page), expected)
    assert page.input_value("#f-start input") == f"{start:%Y-%m-%d}"
    assert "31 Mar 2024" in page.text_content("[data-testid=data-as-of]")
    # The freshness panel: the last file's accounting opens into a table of the latest files.
    accounting = page.locator("[data-testid=file-accounting]")
    assert "5 into earlier days · 2 corrections" in accounting.text_content()
    accounting.locator("summary").click()
    row = accounting.locator("tr[data-file='2024-03-31']")
    row.wait_for()
    assert row.get_attribute("data-balanced") == "true" and row.get_attribute("data-rows-loaded-earlier") == "5"
    assert "30 Mar changed by the file of 31 Mar" in page.text_content("[data-testid=changed-by]")
    accounting.locator("summary").click()
    page.wait_for_selector("#chart-trend-revenue .gtitle")
    assert chart_title(page, "chart-trend-revenue").startswith("Revenue per day by channel")
    assert chart_title(page, "chart-compare-failure").startswith("Failure rate by channel")
    legend = page.eval_on_selector_all("#chart-trend-revenue .legendtext", "els => els.map(e => e.textContent)")
    assert set(legend) == {"Credit Card", "Debit Card", "UPI", "Net Banking"}
    page.wait_for_timeout(800)
    page.screenshot(path=str(ARTIFACTS / "dashboard-desktop.png"), full_page=True)

    # The channel filter changes KPIs and charts.
    choose(page, "f-channel", "UPI")
    page.wait_for_function(
        "n => document.querySelector('[data-kpi=txn_count]').dataset.value !== String(n)", arg=expected["txn_count"]
    )
    upi = warehouse_kpis(url, start, LAST_DAY, channel="UPI")
    assert_kpis_match(page_kpis(page), upi)
    page.wait_for_function(
        "() => document.querySelector('#chart-compare-failure .gtitle')"
        ".textContent.startsWith('Failure rate by region')"
    )
    assert chart_title(page, "chart-trend-revenue").startswith("Revenue per day by region")
    assert "UPI" in chart_title(page, "chart-compare-failure")

    # The CSV export is the daily table behind the view (UPI, 30 days).
    with page.expect_download() as download:
        page.click("#bap-csv")
    lines = Path(download.value.path()).read_text().splitlines()
    assert lines[0].startswith("date,transactions,failed,failure_rate_pct,revenue_success")
    assert len(lines) == 1 + 30
    assert sum(int(line.split(",")[1]) for line in lines[1:]) == upi["txn_count"]

    # The daily table's rows come when it is opened (a closed table is not sent with each change).
    page.locator("#bap-daily").get_by_text("Daily table").click()
    page.wait_for_selector("#bap-daily table")
    assert "Transactions" in page.text_content("#bap-daily table")

    # The cascade narrows: a region's states, a state's cities; a new region resets the state.
    geo = expected["geo"]
    choose(page, "f-region", "South")
    page.wait_for_function(
        "() => document.querySelector('#chart-compare-failure .gtitle').textContent.includes('by state in South')"
    )
    assert options(page, "f-state") == ["All", *sorted(geo["South"])]
    choose(page, "f-state", "Karnataka")
    page.wait_for_function(
        "() => document.querySelector('#chart-compare-failure .gtitle').textContent.includes('by city in Karnataka')"
    )
    assert options(page, "f-city") == ["All", *sorted(geo["South"]["Karnataka"])]
    choose(page, "f-region", "West")
    page.wait_for_function(
        "() => document.querySelector('#chart-compare-failure .gtitle').textContent.includes('by state in West')"
    )
    assert page.input_value("#f-state input") == "All"
    assert options(page, "f-state") == ["All", *sorted(geo["West"])]

    # Data Docs are served by the same app.
    link = page.locator("[data-testid=data-docs]")
    assert link.get_attribute("href") == "/data-docs/"
    docs = browser.new_page()
    docs.goto(server.url + "/data-docs/")
    assert "Data Docs index" in docs.text_content("h1")
    docs.close()

    # The Quality tab shows pass rates, failures and a day's quarantined rows.
    page.get_by_role("tab", name="Quality").click()
    page.wait_for_selector("#chart-pass-rate .gtitle")
    assert "Expectations passed per suite" in chart_title(page, "chart-pass-rate")
    page.wait_for_selector("#chart-quarantine-reasons .gtitle")
    assert "Quarantined rows by reason" in chart_title(page, "chart-quarantine-reasons")
    assert page.locator("#chart-quarantine-reasons .bars path").count() > 0  # one bar per reason
    page.wait_for_selector("#q-failures table")
    headers = page.eval_on_selector_all("#q-failures th", "els => els.map(e => e.textContent.trim())")
    assert any("Expectation" in h for h in headers) and not {"1", "2", "3"} & set(headers)
    page.wait_for_selector("#q-reasons table")
    page.wait_for_timeout(600)
    page.screenshot(path=str(ARTIFACTS / "dashboard-quality.png"), full_page=True)
    assert not errors, errors
    page.close()


def test_dashboard_at_phone_width(browser: Any, served: tuple[Any, str]) -> None:
    server, _ = served
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page(
        viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True, has_touch=True
    )
    page.goto(server.url + "/")
    page.wait_for_selector("[data-kpi='txn_count'][data-value]:not([data-value=''])", timeout=60_000)
    page.wait_for_selector("#chart-trend-revenue .gtitle")
    # nothing wider than the screen: no sideways scrolling (wide tables scroll inside themselves)
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390 + 1
    page.wait_for_timeout(800)
    page.screenshot(path=str(ARTIFACTS / "dashboard-phone.png"), full_page=True)
    page.get_by_role("tab", name="Quality").click()
    page.wait_for_selector("#chart-pass-rate .gtitle")
    page.wait_for_timeout(800)
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390 + 1
    page.close()


def test_the_quality_tab_is_drawn_when_opened_and_a_picked_day_shows_its_rows(
    browser: Any, served: tuple[Any, str]
) -> None:
    """The page load draws the Overview only (the Quality tab costs its first paint nothing); opening
    the tab draws its charts and tables, and picking a day lists that day's quarantined rows."""
    server, _ = served
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(server.url + "/")
    page.wait_for_selector("[data-kpi='txn_count'][data-value]:not([data-value=''])", timeout=60_000)
    page.wait_for_selector("#chart-trend-revenue .gtitle")
    assert page.locator("#chart-pass-rate, #q-failures, #q-day").count() == 0
    page.get_by_role("tab", name="Quality").click()
    page.wait_for_selector("#chart-pass-rate .gtitle")
    page.wait_for_selector("#q-rows table")
    first = page.locator("#q-day input").input_value().split(" · ")[0]
    labels = options(page, "q-day")
    assert len(labels) >= 2, labels
    picked = next(label for label in labels if not label.startswith(first))
    choose(page, "q-day", picked)
    day_key = picked.split(" · ")[0].replace("-", "")
    page.wait_for_function(
        "id => (document.querySelector('#q-rows') || {innerText: ''}).innerText.includes(id)",
        arg=f"T{day_key}-Q",
        timeout=30_000,
    )
    assert f"T{first.replace('-', '')}-Q" not in page.inner_text("#q-rows")
    page.close()

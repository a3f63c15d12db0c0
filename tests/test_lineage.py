"""Lineage in Prefect: each day's run materializes its assets, read back through the Prefect API.

landed file -> raw partition -> processed + quarantine partitions -> fact_transactions and the
rollups, keyed by URI (file:// of the lake, postgresql://host/db/table without credentials), with
row counts and the suite's verdict as metadata. The browser test records what the local server's
UI shows of them (the Event Feed; the asset graph itself is Prefect Cloud's).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

from flows.lineage import lake_key, warehouse_key
from flows.settings import Settings
from flows.steps import lake_of
from tests.conftest import write_csv

DAY = date(2024, 3, 5)
TABLES = ("fact_transactions", "agg_daily_city", "agg_daily_region")


def _row(i: int, **overrides: str) -> dict[str, str]:
    row = {
        "transaction_id": f"L-{i:05d}",
        "transaction_ts": f"{DAY}T10:{i % 60:02d}:00Z",
        "customer_id": f"C{i % 7}",
        "city": "Pune",
        "state": "Maharashtra",
        "channel": "UPI",
        "amount": f"{100 + i}.50",
        "status": "SUCCESS",
        "processing_time_s": "1.250",
    }
    return row | overrides


def asset_events(settings: Settings, expected: int, timeout: float = 60.0) -> dict[str, list[Any]]:
    """Asset materializations of this test's lake and warehouse, by asset key (waits for `expected` events)."""
    from prefect.client.orchestration import get_client
    from prefect.events.filters import EventFilter, EventNameFilter, EventResourceFilter

    assert settings.warehouse_url is not None
    prefixes = [
        lake_key(settings, lake_of(settings).base),
        warehouse_key(settings.warehouse_url.get_secret_value(), ""),
    ]
    deadline = time.monotonic() + timeout
    while True:
        event_filter = EventFilter(
            event=EventNameFilter(prefix=["prefect.asset.materialization."]),
            resource=EventResourceFilter(id_prefix=prefixes),
        )
        with get_client(sync_client=True) as client:
            events = client.read_events(filter=event_filter, limit=50).events
        if len(events) >= expected or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    by_key: dict[str, list[Any]] = {}
    for event in events:
        by_key.setdefault(event.resource.id, []).append(event)
    return by_key


def upstream(event: Any) -> set[str]:
    return {r.id for r in event.related if r.role == "asset"}


def test_a_loaded_day_materializes_its_lineage(prefect_api: None, settings: Settings, tmp_path: Path) -> None:
    from flows.pipeline import daily_pipeline

    landed = write_csv(tmp_path / "landing" / "day.csv", [*[_row(i) for i in range(20)], _row(99, amount="-1")])
    daily_pipeline(run_date=DAY, input_path=str(landed))

    lake = lake_of(settings)
    assert settings.warehouse_url is not None
    url = settings.warehouse_url.get_secret_value()
    raw = lake_key(settings, lake.raw_path(DAY).rsplit("/", 1)[0])
    processed, quarantine = lake_key(settings, lake.processed_path(DAY)), lake_key(settings, lake.quarantine_path(DAY))
    tables = [warehouse_key(url, t) for t in TABLES]
    events = asset_events(settings, expected=6)
    assert set(events) == {raw, processed, quarantine, *tables}
    assert raw.startswith("file:///") and all(t.startswith("postgresql://127.0.0.1:5432/bap_test_") for t in tables)
    assert all(e.event == "prefect.asset.materialization.succeeded" for es in events.values() for e in es)

    (raw_event,) = events[raw]
    assert upstream(raw_event) == {lake_key(settings, str(landed))}, "the raw partition comes from the landed file"
    assert raw_event.payload | {"sha256": ""} == {
        "day": "2024-03-05",
        "rows_received": 21,
        "files": 1,
        "source": "landed",
        "sha256": "",
        "raw_suite": "passed",
    }
    (processed_event,) = events[processed]
    assert upstream(processed_event) == {raw} == upstream(events[quarantine][0])
    assert processed_event.payload == {"day": "2024-03-05", "rows": 20, "processed_suite": "passed"}
    assert events[quarantine][0].payload == {"day": "2024-03-05", "rows": 1, "reasons": {"amount_not_positive": 1}}
    (facts,) = events[tables[0]]
    assert upstream(facts) == {processed}
    assert facts.payload == {"day": "2024-03-05", "rows": 20, "warehouse_suite": "passed"}


def test_a_blocked_day_materializes_only_what_it_wrote(prefect_api: None, gated_settings: Settings) -> None:
    from flows.errors import QualityGateFailed
    from flows.pipeline import daily_pipeline

    with pytest.raises(QualityGateFailed):
        daily_pipeline(run_date=DAY, scenario="null-ids")
    events = asset_events(gated_settings, expected=1)
    raw = lake_key(gated_settings, lake_of(gated_settings).raw_path(DAY).rsplit("/", 1)[0])
    assert list(events) == [raw], "blocked at the raw gate: nothing was transformed or loaded"
    assert events[raw][0].payload["raw_suite"] == "failed"
    assert events[raw][0].payload["source"] == "synthetic" and upstream(events[raw][0]) == set()


def test_each_backfill_day_materializes_its_assets(prefect_api: None, settings: Settings) -> None:
    from flows.pipeline import backfill_pipeline

    days = [date(2024, 3, 1), date(2024, 3, 2)]
    backfill_pipeline(start=days[0], end=days[-1], concurrency=2)
    events = asset_events(settings, expected=2 * 3 + 2 * 3)
    lake = lake_of(settings)
    for day in days:
        assert lake_key(settings, lake.raw_path(day).rsplit("/", 1)[0]) in events
        assert lake_key(settings, lake.processed_path(day)) in events
    assert settings.warehouse_url is not None
    facts = events[warehouse_key(settings.warehouse_url.get_secret_value(), "fact_transactions")]
    assert sorted(e.payload["day"] for e in facts) == ["2024-03-01", "2024-03-02"], "one materialization per day"


@pytest.mark.parametrize(
    "url, key",
    [
        ("postgresql+psycopg2://loader:s3cret@db.example:5433/warehouse", "postgresql://db.example:5433/warehouse/t"),
        ("postgresql://db.example/warehouse", "postgresql://db.example/warehouse/t"),
        ("postgresql+psycopg2://postgres@/postgres?host=/srv/data/warehouse", "postgresql://localhost/postgres/t"),
    ],
)
def test_warehouse_keys_carry_no_credentials(url: str, key: str) -> None:
    assert warehouse_key(url, "t") == key


@pytest.mark.parametrize(
    "data_dir, path, key",
    [
        ("/srv/lake", "/srv/lake/raw/2024/03/05", "file:///srv/lake/raw/2024/03/05"),
        ("/srv/my lake", "/srv/my lake/raw/2024/03/05", "file:///srv/my_lake/raw/2024/03/05"),
        ("memory://lake", "/lake/raw/2024/03/05", "memory:///lake/raw/2024/03/05"),
    ],
)
def test_lake_keys_are_the_lakes_urls(data_dir: str, path: str, key: str) -> None:
    from prefect.assets import Asset

    assert lake_key(Settings(data_dir=data_dir), path) == key
    assert Asset(key=key).key == key, "Prefect accepts the key"


# --- what the local server's UI shows ------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def ui_server(tmp_path_factory: pytest.TempPathFactory, seed_prefect_home: Callable[[Path], Path]) -> Iterator[str]:
    """A local Prefect server with its UI (the test harness serves the API only); stopped after."""
    home = seed_prefect_home(tmp_path_factory.mktemp("prefect-ui-home"))
    port = _free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PREFECT_HOME=str(home), PREFECT_UI_API_URL=api, PREFECT_SERVER_ANALYTICS_ENABLED="false")
    prefect = Path(sys.executable).with_name("prefect")
    server = subprocess.Popen(
        [str(prefect), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                if httpx.get(f"{api}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, "the Prefect server did not start"
            time.sleep(1)
        yield api
    finally:
        server.terminate()
        server.wait(timeout=60)


@pytest.mark.browser
def test_the_local_ui_shows_the_asset_events_and_no_asset_graph(
    ui_server: str, settings: Settings, tmp_path: Path
) -> None:
    chromium = Path("/usr/bin/chromium")
    if not chromium.exists() and not shutil.which("chromium"):
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
    from playwright.sync_api import sync_playwright

    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PREFECT_API_URL=ui_server, BAP_EXPECTED_ROWS_PER_DAY="0")
    landed = write_csv(tmp_path / "day.csv", [_row(i) for i in range(5)])
    run = subprocess.run(
        [sys.executable, "-m", "flows.cli", "run", "--date", DAY.isoformat(), "--input", str(landed)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    assert settings.warehouse_url is not None
    facts = warehouse_key(settings.warehouse_url.get_secret_value(), "fact_transactions")
    base = ui_server.removesuffix("/api")
    artifacts = Path(__file__).resolve().parents[1] / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(chromium) if chromium.exists() else shutil.which("chromium"),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
        )
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        # The server stores events asynchronously and the feed shows what was stored when it loaded:
        # reload it until the day's materialization is there.
        deadline = time.monotonic() + 120
        while True:
            page.goto(f"{base}/events")
            try:
                page.get_by_text(facts).first.wait_for(timeout=10_000)
                break
            except PlaywrightTimeoutError:
                if time.monotonic() > deadline:
                    raise
        assert page.get_by_text("Asset materialization succeeded").count() >= 1
        page.screenshot(path=str(artifacts / "prefect-asset-events.png"))
        page.goto(f"{base}/assets")
        page.wait_for_load_state("networkidle")
        page.screenshot(path=str(artifacts / "prefect-assets-page.png"))
        body = page.inner_text("body")
        browser.close()
    assert "Page not found" in body, (
        "the local Prefect UI now has an assets page: check whether it draws the asset graph and update the "
        "README's Orchestration section (it says only Prefect Cloud draws it)"
    )

"""Data Docs work without internet: what GX's pages load from CDNs is vendored (pinned, sha256
checked), every built page points at the site's own copies, and in a real Chromium the pages the
dashboard serves under /data-docs/ render fully with every non-loopback request blocked.
Screenshots go to test-artifacts/."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from flows.quality import build_data_docs, offline_docs, validate_processed, validate_raw
from flows.quality.gx_project import quality_paths
from flows.settings import Settings
from tests.quality.conftest import DAY, CleanDay, replace_rows

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}
BOOTSTRAP_SUCCESS_GREEN = "rgb(40, 167, 69)"  # Bootstrap 4's .text-success


@dataclass(frozen=True)
class Site:
    settings: Settings
    docs_dir: Path
    runs: int  # validations listed on the index


@pytest.fixture(scope="module")
def site(clean_day: CleanDay, tmp_path_factory: pytest.TempPathFactory) -> Site:
    """Two days validated as a daily run does (page + index each), one of them blocked by a bad
    status, then the whole site rebuilt as a backfill's end does."""
    settings = Settings(data_dir=str(tmp_path_factory.mktemp("offline") / "data"), transactions_per_day=500)
    second = DAY + timedelta(days=1)
    validate_raw(clean_day.raw, DAY, settings)
    validate_processed(clean_day.processed, DAY, rows_received=500, rows_quarantined=0, settings=settings)
    blocked = validate_raw(replace_rows(clean_day.raw, "status", 2, "pending"), second, settings)
    assert not blocked.passed
    build_data_docs(settings)
    return Site(settings=settings, docs_dir=quality_paths(settings).docs_dir, runs=3)


def test_the_vendored_files_are_the_pinned_ones() -> None:
    assert offline_docs.mismatches() == []
    listed = (offline_docs.VENDOR_DIR.parent / "README.md").read_text(encoding="utf-8")
    assert all(f"`{a.sha256}`" in listed for a in offline_docs.ASSETS)  # the README states them
    packages = {(a.package, a.version) for a in offline_docs.ASSETS}
    assert {("bootstrap", "4.3.1"), ("jquery", "3.7.1"), ("bootstrap-table", "1.19.1")} <= packages


def test_every_asset_of_every_built_page_is_the_sites_own(site: Site) -> None:
    pages = sorted(site.docs_dir.rglob("*.html"))
    assert len(pages) >= 1 + 2 + site.runs  # index, two suite pages, the validations
    for page in pages:
        html = page.read_text(encoding="utf-8")
        assert offline_docs.external_assets(html) == [], page  # a GX upgrade that changes a CDN URL fails here
        for url in re.findall(r"<(?:script|link)\b[^>]*?\b(?:src|href)=\"([^\"#]+)\"", html):
            if "static/vendor/" in url:
                assert (page.parent / url).resolve().is_file(), (page, url)
    index = (site.docs_dir / "index.html").read_text(encoding="utf-8")
    assert 'src="static/vendor/jquery@3.7.1/dist/jquery.min.js"' in index


@pytest.mark.parametrize(
    "cdn_url, to_root, expected",
    [
        (
            "https://code.jquery.com/jquery-3.7.1.min.js",
            "",
            "static/vendor/jquery@3.7.1/dist/jquery.min.js",
        ),
        (
            "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css",
            "../../",
            "../../static/vendor/bootstrap@4.3.1/dist/css/bootstrap.min.css",
        ),
        (
            "https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/logo-long.png?d=6dc8",
            "../",
            "../static/images/logo-long.png",
        ),
    ],
)
def test_a_cdn_url_becomes_the_relative_path_of_its_copy(cdn_url: str, to_root: str, expected: str) -> None:
    html = f'<script src="{cdn_url}" integrity="sha384-x" crossorigin="anonymous"></script>'
    assert offline_docs.rewrite_page(html, to_root) == f'<script src="{expected}"></script>'


# --- in a real browser, served by the dashboard ----------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = str(CHROMIUM) if CHROMIUM.exists() else shutil.which("chromium")
    if executable is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def dashboard(site: Site, module_warehouse_url: str) -> Iterator[str]:
    """The dashboard (bap dashboard's own server) serving this site under /data-docs/; its URL."""
    from flows.warehouse.connection import make_engine
    from flows.warehouse.migrate import apply_migrations
    from ui.app import serve

    engine = make_engine(module_warehouse_url)
    apply_migrations(engine)
    engine.dispose()
    settings = Settings(data_dir=site.settings.data_dir, warehouse_url=module_warehouse_url)
    server = serve(settings, port=0, data_docs_dir=site.docs_dir, block=False)
    yield server.url
    server.close()


def offline_page(browser: Any) -> tuple[Any, list[str]]:
    """A page whose every request to a host other than loopback is aborted (and recorded)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    blocked: list[str] = []

    def route(r: Any) -> None:
        if urlparse(r.request.url).hostname in LOOPBACK:
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    return context.new_page(), blocked


@pytest.mark.browser
def test_data_docs_served_by_the_dashboard_render_with_the_internet_blocked(
    browser: Any, dashboard: str, site: Site
) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page, blocked = offline_page(browser)
    page.goto(dashboard + "/data-docs/")
    # The validations table is filled by bootstrap-table (jQuery): empty when its JS did not load.
    rows = page.locator("table.ge-index-page-validation-results-table").first.locator("tbody tr")
    rows.first.wait_for(timeout=20_000)
    assert rows.count() == site.runs
    run_names = rows.all_inner_texts()
    assert sum(DAY.isoformat() in r for r in run_names) == 2
    assert sum((DAY + timedelta(days=1)).isoformat() in r for r in run_names) == 1
    assert page.locator(".ge-failed-icon").count() == 1  # the blocked run
    page.screenshot(path=str(ARTIFACTS / "data-docs-offline-index.png"), full_page=True)

    # A validation page: its expectations, styled by the vendored Bootstrap and Font Awesome.
    page.locator("table.ge-index-page-validation-results-table tbody tr", has_text=DAY.isoformat()).filter(
        has_text="raw"
    ).first.click()
    page.wait_for_url(re.compile(r"/data-docs/validations/raw/2024-01-15/"))
    page.get_by_text("transaction_id", exact=False).first.wait_for()
    assert page.locator("table.table").count() >= 5  # expectation tables
    navbar = page.evaluate("getComputedStyle(document.querySelector('nav.navbar')).display")
    green = page.evaluate("getComputedStyle(document.querySelector('.fa-check-circle.text-success')).color")
    icon_font = page.evaluate("getComputedStyle(document.querySelector('.fas'), '::before').fontFamily")
    assert (navbar, green) == ("flex", BOOTSTRAP_SUCCESS_GREEN)  # unstyled: "block" and black
    assert "Font Awesome" in icon_font
    page.screenshot(path=str(ARTIFACTS / "data-docs-offline-validation.png"), full_page=True)
    page.context.close()
    assert blocked == [], blocked  # nothing even tried to leave the machine

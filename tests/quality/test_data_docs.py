"""Data Docs: built under the data dir on a run, containing the day's validation, the index bounded;
and nothing is written into the committed GX project."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from pathlib import Path
from urllib.parse import unquote, urlparse

from flows.quality import build_data_docs, data_docs_index, validate_processed, validate_raw
from flows.quality.gx_project import PROJECT_ROOT, quality_paths
from tests.quality.conftest import DAY, replace_rows


def _path(url: str) -> Path:
    return Path(unquote(urlparse(url).path))


def _project_fingerprint() -> dict[str, str]:
    return {
        str(p.relative_to(PROJECT_ROOT)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(PROJECT_ROOT.rglob("*"))
        if p.is_file()
    }


def test_a_run_builds_the_days_pages_and_the_index_under_the_data_dir(clean_day, own_settings) -> None:
    settings = own_settings()
    before = _project_fingerprint()
    raw = validate_raw(clean_day.raw, DAY, settings)
    processed = validate_processed(clean_day.processed, DAY, rows_received=500, rows_quarantined=0, settings=settings)

    docs = quality_paths(settings).docs_dir
    assert docs == Path(settings.data_dir).resolve() / "quality" / "data_docs"
    index = data_docs_index(settings)
    assert index == docs / "index.html" and index.is_file()
    index_html = index.read_text(encoding="utf-8")
    for report in (raw, processed):
        page = _path(report.data_docs_url)
        assert page.is_file() and docs in page.parents
        assert f"/validations/{report.suite}/2024-01-15/" in report.data_docs_url  # the run is named after the day
        html = page.read_text(encoding="utf-8")
        assert "2024-01-15" in html and report.suite in html
        assert str(page.relative_to(docs)) in index_html
    # Results and docs live under the data dir; the committed project is only read.
    assert any(quality_paths(settings).results_dir.rglob("*.json"))
    assert _project_fingerprint() == before


def test_docs_never_and_on_failure(clean_day, own_settings) -> None:
    settings = own_settings()
    quiet = validate_raw(clean_day.raw, DAY, settings, docs="never")
    assert quiet.data_docs_url is None and not data_docs_index(settings).exists()
    passed = validate_raw(clean_day.raw, DAY, settings, docs="on_failure")
    assert passed.data_docs_url is None
    blocked = validate_raw(replace_rows(clean_day.raw, "status", 2, "pending"), DAY, settings, docs="on_failure")
    assert not blocked.passed and _path(blocked.data_docs_url).is_file()
    # The site (and its index) is built once, e.g. at the end of a backfill.
    index = build_data_docs(settings)
    assert index == data_docs_index(settings) and index.is_file()
    assert str(_path(blocked.data_docs_url).relative_to(index.parent)) in index.read_text(encoding="utf-8")


def test_the_index_lists_only_the_latest_validations(clean_day, own_settings) -> None:
    settings = own_settings(data_docs_index_limit=3)
    for offset in range(5):
        validate_raw(clean_day.raw, DAY + timedelta(days=offset), settings, docs="never")
    index = build_data_docs(settings).read_text(encoding="utf-8")
    listed = set(re.findall(r"validations/raw/(\d{4}-\d{2}-\d{2})/", index))
    assert listed == {"2024-01-17", "2024-01-18", "2024-01-19"}
    # The suites themselves are documented too.
    assert (data_docs_index(settings).parent / "expectations" / "raw.html").is_file()

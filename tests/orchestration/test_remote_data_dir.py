"""The data dir as a non-local fsspec URL: a day lands in memory:// (in-process) end to end.

Across processes (worker -> flow run) the integration test runs its deployments on a file:// URL.
"""

from __future__ import annotations

import uuid
from datetime import date
from pathlib import Path

import fsspec
import pytest

from flows.settings import Settings, get_settings

DAY = date(2024, 1, 15)


@pytest.mark.slow
def test_a_day_runs_end_to_end_on_a_memory_filesystem(
    prefect_api: None, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.pipeline import daily_pipeline
    from flows.steps import engine_of
    from flows.warehouse.load import fact_checksum

    root = f"memory://bap-{uuid.uuid4().hex[:8]}/lake"
    monkeypatch.setenv("BAP_DATA_DIR", root)
    monkeypatch.setenv("BAP_STATE_DIR", str(tmp_path / "state"))  # machine-local state stays local
    get_settings.cache_clear()
    remote = get_settings()
    assert not remote.data_is_local

    outcome = daily_pipeline(run_date=DAY)

    fs = fsspec.filesystem("memory")
    base = root.removeprefix("memory://")
    for zone, name in [
        ("raw", "transactions.csv"),
        ("processed", "cleaned_transactions.parquet"),
        ("quarantine", "rejected.parquet"),
    ]:
        assert fs.exists(f"/{base}/{zone}/2024/01/15/{name}"), zone
    assert (
        outcome["status"] == "loaded"
        and outcome["rows_loaded"] + outcome["rows_quarantined"] + outcome["duplicates_dropped"]
        == outcome["rows_received"]
    )
    assert fact_checksum(engine_of(remote))[0] == outcome["rows_loaded"] > 0
    assert not (tmp_path / "data").exists() or not any((tmp_path / "data").rglob("*.csv")), "nothing landed locally"
    fs.rm(f"/{base.split('/')[0]}", recursive=True)

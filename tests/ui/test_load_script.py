"""benchmarks/bench_dashboard_load.py at a tiny scale: it builds its throwaway warehouse, serves the
real dashboard and the minimal baseline app, drives both with concurrent gradio_client sessions,
reports the figures of each without a single error, and drops the database afterwards. No timing
is asserted (the machine may be busy)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import sqlalchemy as sa

pytestmark = pytest.mark.slow


def test_the_load_script_drives_the_dashboard_and_the_baseline(pg_admin_url: str, tmp_path: Path) -> None:
    from benchmarks.bench_dashboard_load import main

    out = tmp_path / "load.json"
    result = main(facts=20_000, users=3, seconds=3, json_path=out, days=60, admin_url=pg_admin_url, browser=False)

    assert result["dashboard_errors"] == 0 and result["baseline_errors"] == 0, result["error_samples"]
    for key in (
        "dashboard_users_p95_ms",
        "dashboard_changes_per_s",
        "baseline_users_p95_ms",
        "baseline_changes_per_s",
        "dashboard_server_cpu_ms_per_change",  # the serving process's CPU for each completed change
        "baseline_server_cpu_ms_per_change",
    ):
        assert isinstance(result[key], float) and result[key] > 0, key
    assert result["render_cache_misses"] > 0  # the load went through the dashboard's own render path
    assert json.loads(out.read_text())["dashboard_users_p95_ms"] == result["dashboard_users_p95_ms"]

    admin = sa.create_engine(pg_admin_url, poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        left = conn.exec_driver_sql(
            "SELECT count(*) FROM pg_database WHERE datname = %(n)s", {"n": result["database"]}
        ).scalar()
    admin.dispose()
    assert left == 0


def test_the_load_goes_to_the_local_machine_only() -> None:
    from benchmarks.bench_dashboard_load import drive

    with pytest.raises(ValueError, match="local machine only"):
        drive("http://example.com:7860", 1, 1, options={})


GEOGRAPHY = [
    ["West", "Maharashtra", "Pune"],
    ["West", "Maharashtra", "Mumbai"],
    ["West", "Gujarat", "Ahmedabad"],
    ["South", "Karnataka", "Bengaluru"],
    ["South", "Tamil Nadu", "Chennai"],
]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_user_only_picks_what_the_page_offers(seed: int) -> None:
    """The dashboard refuses a state or city outside the session's narrowed choices, as a browser
    never sends one: the simulated users walk the cascade the same way."""
    from benchmarks.bench_dashboard_load import FILTERS, next_filters

    options = {
        "preset": ["Last 7 days", "Last 30 days"],
        "region": ["All", "West", "South"],
        "channel": ["All", "UPI"],
        "segment": ["All", "SME"],
        "geography": GEOGRAPHY,
    }
    rng = random.Random(seed)
    current = ["Last 30 days", None, None, "All", "All", "All", "All", "All"]
    for _ in range(200):
        current = next_filters(current, options, rng)
        v = dict(zip(FILTERS, current, strict=True))
        rows = [g for g in GEOGRAPHY if v["region"] in ("All", g[0])]
        assert v["state"] == "All" or v["state"] in {g[1] for g in rows}
        rows = [g for g in rows if v["state"] in ("All", g[1])]
        assert v["city"] == "All" or v["city"] in {g[2] for g in rows}

"""benchmarks/bench_dashboard_load.py at a tiny scale: it builds its throwaway warehouse, serves the
real dashboard, drives it over HTTP with concurrent users, reports its figures without a single
error, and drops the database afterwards. No timing is asserted (the machine may be busy)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

pytestmark = pytest.mark.slow


def test_the_load_script_runs_users_against_the_served_dashboard(pg_admin_url: str, tmp_path: Path) -> None:
    from benchmarks.bench_dashboard_load import main

    out = tmp_path / "load.json"
    result = main(facts=20_000, users=3, seconds=3, json_path=out, days=60, admin_url=pg_admin_url)

    assert result["errors"] == 0, result["error_samples"]
    assert result["facts"] == 20_000
    assert result["requests"] > 0 and result["actions"] > 0
    assert result["requests_by_kind"]["load"] == 3  # every user loaded the page first
    assert result["requests_by_kind"]["filters"] > 0
    for key in ("p50_ms", "p95_ms", "p99_ms", "throughput_rps"):
        assert isinstance(result[key], float) and result[key] > 0, key
    every = result["latency_ms"]["all"]
    assert every["n"] == result["requests"] and every["p50"] <= every["p95"] <= every["p99"] <= every["max"]
    assert result["queue_wait_ms"]["n"] == result["requests"]
    assert result["server_handler_ms"]["filters"]["n"] == result["requests_by_kind"]["filters"]
    assert result["server_data"]["view_ms"]["n"] > 0 and result["server_data"]["warehouse_ms"]["n"] > 0
    assert result["cpu"]["server_process_cpu_s"] >= 0
    assert json.loads(out.read_text())["requests"] == result["requests"]

    admin = sa.create_engine(pg_admin_url, poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        left = conn.exec_driver_sql(
            "SELECT count(*) FROM pg_database WHERE datname = %(n)s", {"n": result["database"]}
        ).scalar()
    admin.dispose()
    assert left == 0


def test_the_load_goes_to_the_local_machine_only() -> None:
    import asyncio

    from benchmarks.bench_dashboard_load import drive

    with pytest.raises(ValueError, match="local machine only"):
        asyncio.run(drive("http://example.com:7860", 1, 1))

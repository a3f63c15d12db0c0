"""The warehouse is down when the load starts, or drops the connection in the middle of the load.

Promises: the load task retries as configured and then the run fails with one clear line (no
traceback, no password); the raw and processed files stay; once the database is back, re-running
the day loads it exactly once. A connection dropped inside the load's transaction leaves no
partial day, and the retry completes it.

Everything runs as a user would: `bap run` in its own process, reporting to a real Prefect API
(its task runs are where the attempts are counted), against real PostgreSQL servers.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from flows import steps
from flows.storage import DataLake
from flows.warehouse.load import LOAD_LOCK
from tests.faults.conftest import (
    DayState,
    Site,
    ThrowawayServer,
    assert_day_consistent,
    audit_message,
    connect,
    day_csv,
    day_state,
    finish,
    holding,
    load_runs,
    other_site,
    prefect_flow_run_with,
    prefect_task_runs,
    query,
    reference_load,
    site_env,
    wait_backend_gone,
    wait_for_loaders,
    wait_until,
)

DAY = date(2024, 5, 14)
PASSWORD = "s3cret-Pw-never-shown"


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("outage-sources")
    return {
        "old": day_csv(folder / "old.csv", DAY, seed=31, rows=2000),
        "new": day_csv(folder / "new.csv", DAY, seed=32, rows=3000, defect_rate=0.02),
    }


@pytest.fixture(scope="module")
def new_day(sources: dict[str, Path], module_warehouse_url: str, tmp_path_factory: pytest.TempPathFactory) -> DayState:
    state = reference_load(sources["new"], module_warehouse_url, tmp_path_factory.mktemp("reference"), DAY)
    return state


def _own_copy(source: Path, tmp_path: Path) -> Path:
    """The source under a path of this test only (its flow run is found by that parameter)."""
    copy = tmp_path / "landing" / source.name
    copy.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, copy)
    return copy


def _one_clear_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got:\n{stderr}"
    assert lines[0].startswith("bap: error: ")
    assert "Traceback" not in stderr
    return lines[0]


@pytest.fixture
def down_site(throwaway_server: ThrowawayServer, prefect_api_url: str, tmp_path: Path) -> Iterator[Site]:
    """An installation whose warehouse is the throwaway server (URL with a password), retrying 4 times."""
    url = throwaway_server.url(password=PASSWORD)
    env = site_env(tmp_path, url, PREFECT_API_URL=prefect_api_url, BAP_RETRY_ATTEMPTS="4", BAP_RETRY_DELAY_S="0.2")
    site = Site(root=tmp_path, url=url, settings=other_site(tmp_path, url), env=env)
    yield site
    site.kill_leftovers()


def test_warehouse_down_when_the_load_starts(
    down_site: Site,
    throwaway_server: ThrowawayServer,
    sources: dict[str, Path],
    new_day: DayState,
    tmp_path: Path,
) -> None:
    site, url = down_site, down_site.url
    landed = _own_copy(sources["new"], tmp_path)
    throwaway_server.stop()

    code, out, err = finish(site.bap("run", "--date", DAY.isoformat(), "--input", str(landed)))
    assert code != 0
    line = _one_clear_line(err)
    assert "cannot reach the warehouse" in line and "BAP_WAREHOUSE_URL" in line  # what failed, what to do
    assert PASSWORD not in out + err

    # Retried as configured: four attempts of the load task, the steps before it ran once.
    flow_run = prefect_flow_run_with("input_path", str(landed))
    assert flow_run.state.is_failed()
    tasks = prefect_task_runs(str(flow_run.id))
    assert tasks["load"].run_count == 4
    assert tasks["load"].state.is_failed()
    assert (tasks["ingest"].run_count, tasks["transform"].run_count) == (1, 1)

    # The lake keeps what was received and prepared.
    lake = DataLake(site.settings.data_dir)
    assert Path(lake.raw_path(DAY)).read_bytes() == landed.read_bytes()
    processed = pq.read_table(lake.processed_path(DAY))
    quarantine = pq.read_table(lake.quarantine_path(DAY))
    assert processed.num_rows == new_day.facts[0] and quarantine.num_rows == new_day.quarantined

    # The database is back: re-running the day (a replay of the raw partition) loads it once.
    throwaway_server.start()
    code, out, err = finish(site.bap("run", "--date", DAY.isoformat()))
    assert code == 0, err
    assert f"{DAY}: loaded" in out
    done = day_state(url, DAY)
    assert done.content == new_day.content
    assert_day_consistent(done, DAY)
    assert load_runs(url, DAY) == [("loaded", new_day.audit[1])]


@pytest.fixture
def loaded_old(site: Site, sources: dict[str, Path]) -> DayState:
    steps.run_day(site.settings, DAY, input_path=str(sources["old"]))
    state = day_state(site.url, DAY)
    assert_day_consistent(state, DAY)
    return state


def test_connection_dropped_inside_the_load_leaves_no_partial_day_and_the_retry_completes_it(
    site: Site,
    sources: dict[str, Path],
    loaded_old: DayState,
    new_day: DayState,
    prefect_api_url: str,
    tmp_path: Path,
) -> None:
    landed = _own_copy(sources["new"], tmp_path)
    queue = connect(site.url)  # will queue for the load lock behind the loader
    try:
        with holding(site.url, "LOCK TABLE agg_daily_city IN SHARE MODE"):
            run = site.bap(
                "run",
                "--date",
                DAY.isoformat(),
                "--input",
                str(landed),
                PREFECT_API_URL=prefect_api_url,
                BAP_RETRY_ATTEMPTS="3",
            )
            # The loader has swapped the day's partition and waits to rewrite the rollups.
            (pid,) = wait_for_loaders(site.url, "%INSERT INTO agg_daily_city%", procs=(run,))
            queued = threading.Thread(target=lambda: queue.cursor().execute(f"SELECT pg_advisory_lock({LOAD_LOCK})"))
            queued.start()
            wait_until(
                lambda: query(
                    site.url,
                    "SELECT 1 FROM pg_stat_activity WHERE application_name = 'bap-fault-test'"
                    " AND wait_event_type = 'Lock' AND query LIKE '%%pg_advisory_lock%%'",
                ),
                "the test to queue for the load lock",
            )
            assert query(site.url, "SELECT pg_terminate_backend(%(pid)s)", {"pid": pid}) == [(True,)]
            wait_backend_gone(site.url, pid)
        queued.join(timeout=30)
        assert not queued.is_alive()

        # The retry has started and waits behind the test: the warehouse holds the old day, whole.
        wait_for_loaders(site.url, "%pg_advisory_xact_lock%", procs=(run,))
        between = day_state(site.url, DAY)
        assert between.content == loaded_old.content
        assert_day_consistent(between, DAY)
    finally:
        queue.rollback()
        queue.close()  # releases the load lock: the retry goes on

    code, out, err = finish(run)
    assert code == 0, err
    done = day_state(site.url, DAY)
    assert done.content == new_day.content
    assert_day_consistent(done, DAY)
    flow_run_id = query(site.url, "SELECT flow_run_id FROM load_audit WHERE run_date = %(day)s", {"day": DAY})[0][0]
    assert prefect_task_runs(flow_run_id)["load"].run_count == 2


def test_connection_dropped_on_the_last_attempt_fails_the_run_with_one_clear_line(
    site: Site,
    sources: dict[str, Path],
    loaded_old: DayState,
    prefect_api_url: str,
    tmp_path: Path,
) -> None:
    landed = _own_copy(sources["new"], tmp_path)
    with holding(site.url, "LOCK TABLE agg_daily_city IN SHARE MODE"):
        run = site.bap(
            "run",
            "--date",
            DAY.isoformat(),
            "--input",
            str(landed),
            PREFECT_API_URL=prefect_api_url,
            BAP_RETRY_ATTEMPTS="1",
        )
        (pid,) = wait_for_loaders(site.url, "%INSERT INTO agg_daily_city%", procs=(run,))
        query(site.url, "SELECT pg_terminate_backend(%(pid)s)", {"pid": pid})
        wait_backend_gone(site.url, pid)
    code, out, err = finish(run)
    assert code != 0
    line = _one_clear_line(err)
    # The real cause (not the "connection already closed" of the rollback after it), and what to do.
    assert "connection already closed" not in line and "re-run" in line

    after = day_state(site.url, DAY)
    assert after.rows == loaded_old.rows  # the old day, whole
    assert_day_consistent(after, DAY)
    status, message = audit_message(site.url, DAY)
    assert status == "failed" and message

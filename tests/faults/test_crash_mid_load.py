"""A load process killed with SIGKILL inside the day's transaction.

Promise: afterwards the day is entirely the last good state (nothing of the killed load is
visible, not even a stray table), and running the day again completes it with the new source.
"""

from __future__ import annotations

import signal
import time
from datetime import date
from pathlib import Path

import pytest

from flows import steps
from flows.warehouse.load import LOAD_LOCK
from tests.faults.conftest import (
    DayState,
    Site,
    assert_day_consistent,
    day_csv,
    day_state,
    finish,
    holding,
    load_runs,
    query,
    reference_load,
    wait_backend_gone,
    wait_for_loaders,
    warehouse_fingerprint,
)

DAY = date(2024, 3, 5)


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The day's old source (already loaded) and a new one with other rows and some bad ones."""
    folder = tmp_path_factory.mktemp("sources")
    return {
        "old": day_csv(folder / "old.csv", DAY, seed=1, rows=3000),
        "new": day_csv(folder / "new.csv", DAY, seed=2, rows=4000, defect_rate=0.02),
    }


@pytest.fixture(scope="module")
def new_day(sources: dict[str, Path], module_warehouse_url: str, tmp_path_factory: pytest.TempPathFactory) -> DayState:
    state = reference_load(sources["new"], module_warehouse_url, tmp_path_factory.mktemp("reference"), DAY)
    assert state.quarantined > 0  # the new source exercises the quarantine write too
    return state


@pytest.fixture
def loaded_old(site: Site, sources: dict[str, Path]) -> DayState:
    steps.run_day(site.settings, DAY, input_path=str(sources["old"]))
    state = day_state(site.url, DAY)
    assert_day_consistent(state, DAY)
    return state


# (what the test holds, the statement the loader then waits at): in the order of load_day.
KILL_POINTS = [
    pytest.param(f"SELECT pg_advisory_lock({LOAD_LOCK})", "%pg_advisory_xact_lock%", id="queued-for-the-load-lock"),
    pytest.param("LOCK TABLE dim_customer IN SHARE MODE", "%INSERT INTO dim_customer%", id="dimensions-half-upserted"),
    pytest.param(
        "LOCK TABLE fact_superseded IN SHARE MODE",
        "%DELETE FROM fact_superseded%",
        id="facts-displaced-before-versions",
    ),
    pytest.param(
        "LOCK TABLE agg_daily_city IN SHARE MODE", "%INSERT INTO agg_daily_city%", id="versions-in-before-the-rollups"
    ),
    pytest.param(
        "LOCK TABLE quarantine_rows IN SHARE MODE", "%DELETE FROM quarantine_rows%", id="rollups-done-during-quarantine"
    ),
    pytest.param("LOCK TABLE load_audit IN SHARE MODE", "%INSERT INTO load_audit%", id="during-the-audit-write"),
]


@pytest.mark.parametrize("hold, waits_at", KILL_POINTS)
def test_sigkill_inside_the_load_leaves_the_old_day_and_a_rerun_completes_it(
    site: Site, sources: dict[str, Path], loaded_old: DayState, new_day: DayState, hold: str, waits_at: str
) -> None:
    before = warehouse_fingerprint(site.url)
    with holding(site.url, hold):
        loader = site.spawn_loader(DAY, sources["new"])
        (pid,) = wait_for_loaders(site.url, waits_at, procs=(loader,))
        loader.send_signal(signal.SIGKILL)
        assert finish(loader)[0] == -signal.SIGKILL
    # The killed client's backend notices once the lock is granted; its transaction is rolled back.
    wait_backend_gone(site.url, pid)

    after = day_state(site.url, DAY)
    assert after.content == loaded_old.content, "the killed load left part of its day behind"
    assert_day_consistent(after, DAY)
    assert warehouse_fingerprint(site.url) == before, "the killed load changed the warehouse"

    # The raw zone already holds the new source: running the day again (a replay) completes it.
    steps.run_day(site.settings, DAY)
    done = day_state(site.url, DAY)
    assert done.content == new_day.content
    assert_day_consistent(done, DAY)
    assert [status for status, _ in load_runs(site.url, DAY)] == ["loaded", "loaded"]


@pytest.mark.parametrize("delay_s", [0.0, 0.03, 0.06, 0.12])
def test_sigkill_at_any_moment_leaves_the_old_or_the_new_day(
    site: Site, sources: dict[str, Path], loaded_old: DayState, new_day: DayState, delay_s: float
) -> None:
    """Killed a given time after it was let through the load lock (mid-load, around COMMIT, or
    after it): the day is the old one or the new one, never a mix."""
    with holding(site.url, f"SELECT pg_advisory_lock({LOAD_LOCK})"):
        loader = site.spawn_loader(DAY, sources["new"])
        (pid,) = wait_for_loaders(site.url, "%pg_advisory_xact_lock%", procs=(loader,))
    time.sleep(delay_s)
    loader.send_signal(signal.SIGKILL)
    finish(loader)
    wait_backend_gone(site.url, pid)

    after = day_state(site.url, DAY)
    assert after.content in (loaded_old.content, new_day.content), "the day is a mix of two loads"
    assert_day_consistent(after, DAY)

    steps.run_day(site.settings, DAY)
    done = day_state(site.url, DAY)
    assert done.content == new_day.content
    assert_day_consistent(done, DAY)


def test_a_stray_load_table_from_an_older_crash_does_not_break_the_next_run(
    site: Site, sources: dict[str, Path], loaded_old: DayState, new_day: DayState
) -> None:
    """Whatever an interrupted load of any version left behind, the next load replaces it."""
    query(site.url, "CREATE TABLE fact_transactions_d20240305_load (junk text)")
    steps.run_day(site.settings, DAY, input_path=str(sources["new"]))
    done = day_state(site.url, DAY)
    assert done.content == new_day.content
    assert_day_consistent(done, DAY)

"""Runs of the same day at the same time: two daily runs, and a backfill overlapping a daily run.

Promise: the final warehouse equals a single clean run (compared table by table in natural keys
against a fresh database loaded once). The loads are made to collide deterministically: the
test holds the load lock until every run waits for it, then lets them all go at once.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from datetime import date, timedelta
from pathlib import Path

import psutil
import pytest

from flows import steps
from flows.generate import days_between
from flows.warehouse.load import LOAD_LOCK
from tests.faults.conftest import (
    Site,
    assert_day_consistent,
    day_csv,
    day_state,
    finish,
    holding,
    other_site,
    wait_for_loaders,
    wait_until,
    warehouse_fingerprint,
)

DAY = date(2024, 6, 11)


def _clean_run(tmp_path: Path, url: str, days: list[date], input_path: Path | None = None) -> dict:
    """The warehouse after one uninterrupted run of each day, alone, into an empty database."""
    settings = other_site(tmp_path / "reference", url)
    steps.sync_customer_feed(settings, days[0])
    for day in days:
        steps.run_day(settings, day, input_path=str(input_path) if input_path else None)
    return warehouse_fingerprint(url)


def _release_together(site: Site, procs: list, waiting: int) -> None:
    """Hold the load lock until `waiting` loads queue for it, then release them all at once."""
    with holding(site.url, f"SELECT pg_advisory_lock({LOAD_LOCK})"):
        wait_for_loaders(site.url, "%pg_advisory_xact_lock%", waiting, procs=tuple(procs), timeout=120)


def test_two_daily_runs_of_the_same_day_at_once_equal_one_clean_run(
    site: Site, prefect_api_url: str, fresh_database, tmp_path: Path
) -> None:
    runs = [site.bap("run", "--date", DAY.isoformat(), PREFECT_API_URL=prefect_api_url) for _ in range(2)]
    _release_together(site, runs, 2)
    for run in runs:
        code, out, err = finish(run)
        assert code == 0, err

    assert warehouse_fingerprint(site.url) == _clean_run(tmp_path, fresh_database(), [DAY])
    assert_day_consistent(day_state(site.url, DAY), DAY)


def test_two_runs_landing_the_same_file_at_once_equal_one_clean_run(
    site: Site, prefect_api_url: str, fresh_database, tmp_path: Path
) -> None:
    source = day_csv(tmp_path / "landed" / "day.csv", DAY, seed=41, rows=3000, defect_rate=0.02)
    copies = []
    for name in ("a", "b"):  # the same bytes delivered twice (two schedulers, a manual re-run)
        copies.append(tmp_path / "landed" / name / "day.csv")
        copies[-1].parent.mkdir()
        shutil.copyfile(source, copies[-1])
    runs = [
        site.bap("run", "--date", DAY.isoformat(), "--input", str(c), PREFECT_API_URL=prefect_api_url) for c in copies
    ]
    _release_together(site, runs, 2)
    for run in runs:
        code, out, err = finish(run)
        assert code == 0, err

    reference = fresh_database()
    settings = other_site(tmp_path / "reference", reference)
    steps.run_day(settings, DAY, input_path=str(source))
    assert warehouse_fingerprint(site.url) == warehouse_fingerprint(reference)


def test_a_backfill_overlapping_a_daily_run_equals_one_clean_backfill(
    site: Site, prefect_api_url: str, fresh_database, tmp_path: Path
) -> None:
    days = days_between(DAY, DAY + timedelta(days=2))
    steps.sync_customer_feed(
        site.settings, DAY
    )  # applied before, as after any earlier day: the runs' syncs change nothing
    backfill = site.bap(
        "backfill",
        "--start",
        days[0].isoformat(),
        "--end",
        days[-1].isoformat(),
        "--concurrency",
        "2",
        PREFECT_API_URL=prefect_api_url,
        BAP_BACKFILL_CHUNK_DAYS="1",  # day by day: two of the backfill's days at the lock at once
    )
    daily = site.bap("run", "--date", DAY.isoformat(), PREFECT_API_URL=prefect_api_url)
    # The backfill's first two days (DAY among them) and the daily run of DAY, all at the lock.
    _release_together(site, [backfill, daily], 3)
    for run in (backfill, daily):
        code, out, err = finish(run)
        assert code == 0, err

    assert warehouse_fingerprint(site.url) == _clean_run(tmp_path, fresh_database(), days)
    for day in days:
        assert_day_consistent(day_state(site.url, day), day)


def _idle_waiting(pid: int, quiet_s: float = 2.0) -> bool:
    """The process has used (almost) no CPU for `quiet_s`: started, imported, and now polling for
    the partition lock (filelock retries a non-blocking flock, so /proc/locks shows no waiter)."""
    proc = psutil.Process(pid)
    before = sum(proc.cpu_times()[:2])
    time.sleep(quiet_s)
    return sum(proc.cpu_times()[:2]) - before < 0.1


def _split_csv(source: Path, folder: Path, parts: int) -> Path:
    """The day's file delivered as `parts` files (each with the header): a landing that takes a while."""
    header, *lines = source.read_bytes().splitlines(keepends=True)
    folder.mkdir(parents=True)
    size = -(-len(lines) // parts)
    for i in range(parts):
        (folder / f"part-{i:03d}.csv").write_bytes(header + b"".join(lines[i * size : (i + 1) * size]))
    return folder


def _stop_inside_the_landing(site: Site, landed: Path, marker: Path) -> subprocess.Popen:
    """A loader landing `landed`, stopped (SIGSTOP) while its landing is in progress."""
    for _ in range(5):
        landing = site.spawn_loader(DAY, landed)
        deadline = time.monotonic() + 30
        while not marker.exists() and landing.poll() is None and time.monotonic() < deadline:
            pass  # tight poll: the landing of 60 small files takes tens of milliseconds
        landing.send_signal(signal.SIGSTOP)
        if marker.exists():
            return landing
        landing.send_signal(signal.SIGCONT)  # it had finished landing already: try again
        finish(landing)
    pytest.fail("could not stop a loader inside its landing")


def test_a_run_replaying_the_day_while_another_lands_it_waits_for_the_landing(
    site: Site, fresh_database, tmp_path: Path
) -> None:
    """A backfill replays a day while a daily run is landing that day's new files: the replay must
    neither read the half-landed partition nor fail on it; it waits and reads the new files."""
    steps.run_day(site.settings, DAY, input_path=str(day_csv(tmp_path / "old.csv", DAY, seed=51, rows=2000)))
    new = day_csv(tmp_path / "new.csv", DAY, seed=52, rows=3000, defect_rate=0.02)
    landed = _split_csv(new, tmp_path / "arriving", 60)
    marker = Path(site.lake.raw_path(DAY)).parent / "_LANDING_IN_PROGRESS"

    landing = _stop_inside_the_landing(site, landed, marker)
    try:
        replay = site.spawn_loader(DAY)
        wait_until(
            lambda: _idle_waiting(replay.pid), "the replay to wait for the landing", procs=(replay,), timeout=120
        )
    finally:
        landing.send_signal(signal.SIGCONT)
    for run in (landing, replay):
        code, out, err = finish(run)
        assert code == 0, err

    reference = fresh_database()
    steps.run_day(other_site(tmp_path / "reference", reference), DAY, input_path=str(landed))
    assert day_state(site.url, DAY).content == day_state(reference, DAY).content

"""The task runner from settings: threads by default, Dask on request - and a Dask backfill loads the same rows."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from prefect import flow, task
from prefect.task_runners import ThreadPoolTaskRunner
from prefect_dask import DaskTaskRunner

from flows.orchestration.runners import ConfiguredTaskRunner, make_task_runner
from flows.settings import Settings, get_settings
from tests.conftest import _create_database, _drop_database


@pytest.mark.parametrize(
    "settings, concurrency, max_workers",
    [
        (Settings(), None, 4),
        (Settings(backfill_concurrency=2), None, 2),
        (Settings(backfill_concurrency=2), 7, 7),
    ],
)
def test_threads_by_default_bounded_by_the_concurrency(
    settings: Settings, concurrency: int | None, max_workers: int
) -> None:
    runner = make_task_runner(settings, concurrency)
    assert isinstance(runner, ThreadPoolTaskRunner) and runner._max_workers == max_workers


def test_dask_at_a_scheduler_address() -> None:
    runner = make_task_runner(Settings(task_runner="dask", dask_address="tcp://10.0.0.5:8786"))
    assert isinstance(runner, DaskTaskRunner) and runner.address == "tcp://10.0.0.5:8786"


@pytest.mark.parametrize("dask_workers, concurrency, n_workers", [(2, None, 2), (8, 3, 3), (2, 5, 2)])
def test_dask_local_cluster_of_single_threaded_workers(
    dask_workers: int, concurrency: int | None, n_workers: int
) -> None:
    runner = make_task_runner(Settings(task_runner="dask", dask_workers=dask_workers), concurrency)
    assert isinstance(runner, DaskTaskRunner) and runner.address is None
    assert runner.cluster_kwargs["n_workers"] == n_workers and runner.cluster_kwargs["threads_per_worker"] == 1


@task
def double(x: int) -> int:
    return 2 * x


@flow(task_runner=ConfiguredTaskRunner())
def configured(n: int) -> list[int]:
    return [f.result() for f in double.map(range(n))]


def test_configured_runner_reads_the_settings_when_the_run_starts(
    prefect_api: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BAP_TASK_RUNNER", "threads")
    get_settings.cache_clear()
    try:
        assert configured(4) == [0, 2, 4, 6]
    finally:
        get_settings.cache_clear()
    assert isinstance(ConfiguredTaskRunner().duplicate(), ConfiguredTaskRunner)
    with pytest.raises(RuntimeError, match="not started"):
        ConfiguredTaskRunner().submit(double, {"x": 1})


# --- a backfill through Dask loads what the default runner loads --------------------------------

START, END = date(2024, 2, 27), date(2024, 3, 1)  # 4 days across a month end and a leap day


@pytest.fixture
def second_warehouse(pg_admin_url: str) -> Iterator[str]:
    url = _create_database(pg_admin_url)
    yield url
    _drop_database(pg_admin_url, url)


@pytest.mark.slow
def test_a_backfill_on_a_dask_local_cluster_loads_the_same_rows_as_threads(
    prefect_api: None, settings: Settings, second_warehouse: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from distributed import Client, LocalCluster

    from flows.pipeline import backfill_pipeline
    from flows.steps import engine_of
    from flows.warehouse.load import fact_checksum

    t0 = time.perf_counter()
    threads = backfill_pipeline.with_options(task_runner=make_task_runner(settings))(start=START, end=END)
    threads_s = time.perf_counter() - t0
    expected = fact_checksum(engine_of(settings))
    assert [o["status"] for o in threads] == ["loaded"] * 4 and expected[0] == 4 * settings.transactions_per_day

    # The Dask run: its own warehouse and data dir, in the environment *before* the worker
    # processes start (a worker reads the BAP_* settings of its own environment).
    monkeypatch.setenv("BAP_WAREHOUSE_URL", second_warehouse)
    monkeypatch.setenv("BAP_DATA_DIR", str(tmp_path / "dask-data"))
    monkeypatch.setenv("BAP_BACKFILL_CHUNK_DAYS", "2")  # two chunks of two days: two Dask tasks
    get_settings.cache_clear()
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster:
        monkeypatch.setenv("BAP_TASK_RUNNER", "dask")
        monkeypatch.setenv("BAP_DASK_ADDRESS", cluster.scheduler_address)
        get_settings.cache_clear()
        dask_settings = get_settings()
        runner = make_task_runner(dask_settings)
        assert isinstance(runner, DaskTaskRunner)
        t0 = time.perf_counter()
        on_dask = backfill_pipeline.with_options(task_runner=runner)(start=START, end=END, concurrency=2)
        dask_s = time.perf_counter() - t0
        with Client(cluster) as client:
            executed = client.run(lambda dask_worker: dask_worker.state.executed_count)
    assert [o["status"] for o in on_dask] == ["loaded"] * 4
    assert len(executed) == 2 and sum(executed.values()) >= 2, (
        f"the chunks of days ran as Dask tasks on the two workers: {executed}"
    )
    assert fact_checksum(engine_of(dask_settings)) == expected
    print(f"\nbackfill of 4 days: threads {threads_s:.1f} s, Dask local cluster (2 workers) {dask_s:.1f} s")

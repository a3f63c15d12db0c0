"""One whole day end to end, stage by stage, in a fresh process (so its peak memory is its own).

generate + write raw -> read raw -> transform (+ quarantine, Parquet) -> validate raw and
processed -> load (COPY, swap, rollups): the pipeline's own plain functions, no Prefect.
"""

from __future__ import annotations

import multiprocessing
import resource
import time
from datetime import UTC, date
from typing import Any

DAY = date(2024, 6, 3)


def _one_day(rows: int, data_dir: str, warehouse_url: str, validate: bool) -> dict[str, Any]:
    from flows import steps
    from flows.settings import Settings

    settings = Settings(
        data_dir=data_dir, warehouse_url=warehouse_url, transactions_per_day=rows, log_dir=f"{data_dir}/logs"
    )
    steps.engine_of(settings)  # connect and migrate outside the timed stages
    steps.sync_customer_feed(settings)
    marks: dict[str, float] = {}
    if validate:
        # GX's import and project load happen once per process (a backfill or a worker pays them
        # once, not per day): measured apart, outside the day's stages.
        t_gx = time.perf_counter()
        warm = steps.ingest(settings, DAY.replace(day=1), regenerate=True)
        steps.validate_raw(settings, warm, docs="never")
        marks["gx_first_use_seconds"] = time.perf_counter() - t_gx
    t0 = time.perf_counter()
    raw = steps.ingest(settings, DAY, regenerate=True)
    marks["ingest_seconds"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    clean = steps.transform(settings, raw)
    marks["transform_seconds"] = time.perf_counter() - t1
    marks["validate_seconds"] = 0.0
    if validate:
        t2 = time.perf_counter()
        steps.validate_batches(settings, raw, clean)
        marks["validate_seconds"] = time.perf_counter() - t2
    t3 = time.perf_counter()
    from datetime import datetime

    loaded, _ = steps.load(settings, raw, clean, flow_run_id=None, started_at=datetime.now(UTC))
    marks["load_seconds"] = time.perf_counter() - t3
    if loaded.unchanged:  # a day the warehouse already holds replaces nothing: that is not a load
        raise RuntimeError("the end-to-end day found its warehouse already loaded: give each run a fresh database")
    marks["e2e_seconds"] = time.perf_counter() - t0
    marks["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    marks["rows"] = clean.processed.num_rows
    return marks


def _child(queue: Any, *args: Any) -> None:
    try:
        queue.put(_one_day(*args))
    except BaseException as exc:
        queue.put(exc)


def run_once(rows: int, data_dir: str, warehouse_url: str, validate: bool = True) -> dict[str, Any]:
    """One end-to-end day in a spawned process; returns its stage timings and peak RSS."""
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    process = ctx.Process(target=_child, args=(queue, rows, data_dir, warehouse_url, validate))
    process.start()
    result = queue.get()
    process.join()
    if isinstance(result, BaseException):
        raise result
    return result

"""A backfill of N synthetic days through Prefect, against the same rows loaded as one day, and
against the same days run without Prefect.

- backfill_vs_one_day: the Prefect backfill of N days x R rows over the Prefect backfill of one
  day of N x R rows, end to end (what a day's fixed cost adds up to over history);
- backfill_orchestration_*: the Prefect backfill over the same chunks of days run by
  `steps.run_days` in threads (what orchestration costs: task runs, state reporting, artifacts).

Each side gets its own data directory and throwaway database, so none replays another.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import date, timedelta
from typing import Any

from pydantic import SecretStr

from flows.settings import Settings

END = date(2024, 12, 31)
_ENV = ("BAP_DATA_DIR", "BAP_WAREHOUSE_URL", "BAP_TRANSACTIONS_PER_DAY")


@contextmanager
def _environment(data_dir: str, url: str, rows_per_day: int) -> Iterator[None]:
    """The Prefect side reads its settings from the environment, as a deployment would."""
    from flows.settings import get_settings

    saved = {k: os.environ.get(k) for k in _ENV}
    os.environ.update(BAP_DATA_DIR=data_dir, BAP_WAREHOUSE_URL=url, BAP_TRANSACTIONS_PER_DAY=str(rows_per_day))
    get_settings.cache_clear()
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        get_settings.cache_clear()


def _prefect_backfill(start: date, end: date, width: int) -> tuple[float, list[dict[str, Any]]]:
    from flows.pipeline import backfill_pipeline

    t0 = time.perf_counter()
    outcomes = backfill_pipeline(start=start, end=end, concurrency=width)
    seconds = time.perf_counter() - t0
    assert isinstance(outcomes, list), f"the backfill failed: {outcomes}"
    return seconds, outcomes


def _plain(settings: Settings, tmp: str, url: str, start: date, rows_per_day: int, width: int) -> float:
    from flows import steps
    from flows.generate import days_between

    plain = settings.model_copy(
        update={"data_dir": f"{tmp}/plain", "transactions_per_day": rows_per_day, "warehouse_url": SecretStr(url)}
    )
    steps.engine_of(plain)
    steps.sync_customer_history(plain, start, END)
    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=width) as pool:
        chunks = steps.chunks_of(plain, days_between(start, END))
        list(pool.map(lambda days: steps.run_days(plain, days, sync_customers=False), chunks))
    return time.perf_counter() - t0


def run(
    settings: Settings,
    warehouse_urls: tuple[str, str, str],
    days: int = 365,
    rows_per_day: int = 500,
    concurrency: int | None = None,
) -> dict[str, Any]:
    """`warehouse_urls`: empty migrated databases for the plain backfill, the Prefect backfill and
    the one big day."""
    start = END - timedelta(days=days - 1)
    width = concurrency or settings.backfill_concurrency
    with tempfile.TemporaryDirectory(prefix="bap-bench-backfill-") as tmp:
        plain_seconds = _plain(settings, tmp, warehouse_urls[0], start, rows_per_day, width)
        with _environment(f"{tmp}/prefect", warehouse_urls[1], rows_per_day):
            prefect_seconds, outcomes = _prefect_backfill(start, END, width)
        with _environment(f"{tmp}/one-day", warehouse_urls[2], rows_per_day * days):
            one_day_seconds, one_day = _prefect_backfill(END, END, width)
    loaded = sum(1 for o in outcomes if o["status"] == "loaded")
    assert [o["status"] for o in one_day] == ["loaded"], one_day
    return {
        "backfill_days": days,
        "backfill_days_loaded": loaded,
        "backfill_seconds": prefect_seconds,
        "backfill_one_day_seconds": one_day_seconds,
        "backfill_vs_one_day": prefect_seconds / one_day_seconds,
        "backfill_without_prefect_seconds": plain_seconds,
        "backfill_orchestration_seconds": prefect_seconds - plain_seconds,
        "backfill_orchestration_share": (prefect_seconds - plain_seconds) / prefect_seconds,
        "backfill_concurrency": width,
        "backfill_chunk_days": len(_chunk(settings, rows_per_day)),
    }


def _chunk(settings: Settings, rows_per_day: int) -> list[date]:
    from flows import steps

    return steps.chunks_of(settings.model_copy(update={"transactions_per_day": rows_per_day}), [END] * 1000)[0]

"""A backfill of N synthetic days through Prefect, against the same days run without Prefect.

The difference is what orchestration costs: task runs, state reporting, logs to the API.
Each side gets its own data directory and throwaway database, so neither replays the other.
"""

from __future__ import annotations

import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from typing import Any

from pydantic import SecretStr

from flows.settings import Settings

END = date(2024, 12, 31)


def run(
    settings: Settings,
    warehouse_urls: tuple[str, str],
    days: int = 365,
    rows_per_day: int = 500,
    concurrency: int | None = None,
) -> dict[str, Any]:
    from flows import steps
    from flows.generate import days_between
    from flows.pipeline import backfill_pipeline
    from flows.settings import get_settings

    start = END - timedelta(days=days - 1)
    width = concurrency or settings.backfill_concurrency
    with tempfile.TemporaryDirectory(prefix="bap-bench-backfill-") as tmp:
        plain = settings.model_copy(
            update={
                "data_dir": f"{tmp}/plain",
                "transactions_per_day": rows_per_day,
                "warehouse_url": SecretStr(warehouse_urls[0]),
            }
        )
        steps.engine_of(plain)
        steps.sync_customer_feed(plain)
        t0 = time.perf_counter()
        with ThreadPoolExecutor(max_workers=width) as pool:
            list(pool.map(lambda d: steps.run_day(plain, d), days_between(start, END)))
        plain_seconds = time.perf_counter() - t0

        # The Prefect side reads its settings from the environment, as a deployment would.
        import os

        saved = {k: os.environ.get(k) for k in ("BAP_DATA_DIR", "BAP_WAREHOUSE_URL", "BAP_TRANSACTIONS_PER_DAY")}
        os.environ.update(
            BAP_DATA_DIR=f"{tmp}/prefect",
            BAP_WAREHOUSE_URL=warehouse_urls[1],
            BAP_TRANSACTIONS_PER_DAY=str(rows_per_day),
        )
        get_settings.cache_clear()
        try:
            t1 = time.perf_counter()
            outcomes = backfill_pipeline(start=start, end=END, concurrency=width)
            prefect_seconds = time.perf_counter() - t1
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
            get_settings.cache_clear()
    loaded = sum(1 for o in outcomes if o["status"] == "loaded")
    return {
        "backfill_days": days,
        "backfill_days_loaded": loaded,
        "backfill_seconds": prefect_seconds,
        "backfill_without_prefect_seconds": plain_seconds,
        "backfill_orchestration_seconds": prefect_seconds - plain_seconds,
        "backfill_orchestration_share": (prefect_seconds - plain_seconds) / prefect_seconds,
        "backfill_concurrency": width,
    }

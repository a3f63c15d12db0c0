"""Operational Prefect flows behind the `freshness` and `fill-gaps` deployments (prefect.yaml).

Two-line adapters over plain functions (alerts.check_freshness, gaps.find_gaps) and the
pipeline's backfill flow; a failure of either alerts like a pipeline failure does.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from prefect import State, flow, get_run_logger

from flows.orchestration.alerts import check_freshness
from flows.orchestration.gaps import find_gaps
from flows.orchestration.hooks import alert_on_failure
from flows.settings import get_settings


@flow(name="freshness-check", on_failure=[alert_on_failure], on_crashed=[alert_on_failure])
def freshness_check() -> list[str]:
    """Alert on every day of the lookback that is past its deadline and not loaded; return those days."""
    from flows.steps import engine_of

    settings = get_settings()
    late = check_freshness(engine_of(settings), settings)
    get_run_logger().info(
        "freshness: %s", f"late days {[d.isoformat() for d in late]}" if late else "every due day is loaded"
    )
    return [d.isoformat() for d in late]


@flow(name="fill-gaps", on_failure=[alert_on_failure], on_crashed=[alert_on_failure])
def fill_gaps(start: date, end: date, concurrency: int | None = None) -> list[dict[str, Any]] | State[Any]:
    """Backfill exactly the days of [start, end] that are missing or failed in the warehouse."""
    from flows.pipeline import backfill_pipeline
    from flows.steps import engine_of

    settings = get_settings()
    gaps = find_gaps(engine_of(settings), start, end)
    logger = get_run_logger()
    if not gaps:
        logger.info("no gaps between %s and %s", start, end)
        return []
    logger.info("filling %d gap(s): %s", len(gaps), ", ".join(d.isoformat() for d in gaps))
    # The backfill's own final state: a failed day ends this run Failed with its one line, no traceback.
    return backfill_pipeline(start=gaps[0], end=gaps[-1], days=gaps, concurrency=concurrency, return_state=True)

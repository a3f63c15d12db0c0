"""Prefect flows: thin wrappers that read like the pipeline diagram.

    daily_pipeline:    customers -> ingest -> transform -> load           (one task run per step)
    backfill_pipeline: customers -> [day-YYYY-MM-DD, ...]                  (one task run per day)

The backfill runs each day as a single task (named by the day, visible in the Prefect UI,
retried as a whole, re-runnable alone) because a task run costs milliseconds where a flow run
costs about a second: 365 days stay well under two minutes of orchestration.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.futures import PrefectFuture, as_completed
from prefect.runtime import flow_run

from flows import steps
from flows.errors import BapError, ContractError, QualityGateFailed
from flows.generate import days_between
from flows.logs import configure_logging
from flows.orchestration.hooks import alert_on_failure
from flows.orchestration.runners import ConfiguredTaskRunner
from flows.settings import Settings, get_settings

_PERMANENT = (ContractError, QualityGateFailed, ValueError)


def _is_transient(task: Any, task_run: Any, state: Any) -> bool:
    """Retry unless the failure is one that a retry cannot fix (a bad file, a failed gate)."""
    exc = state.result(raise_on_failure=False)
    return not isinstance(exc, _PERMANENT)


def _retrying(fn: Any, settings: Settings) -> Any:
    return fn.with_options(
        retries=settings.retry_attempts - 1,
        retry_delay_seconds=settings.retry_delay_s,
        retry_condition_fn=_is_transient,
    )


def _run_id() -> str | None:
    run_id = flow_run.get_id()
    return str(run_id) if run_id else None


@task(name="customers", cache_policy=NO_CACHE)
def customers_task() -> int:
    return steps.sync_customer_feed(get_settings())


@task(name="ingest", cache_policy=NO_CACHE)
def ingest_task(day: date, input_path: str | None, scenario: str | None, regenerate: bool) -> steps.RawBatch:
    return steps.ingest(get_settings(), day, input_path=input_path, scenario=scenario, regenerate=regenerate)


@task(name="transform", cache_policy=NO_CACHE)
def transform_task(raw: steps.RawBatch) -> steps.CleanResult:
    return steps.transform(get_settings(), raw)


@task(name="validate-raw", cache_policy=NO_CACHE)
def validate_raw_task(raw: steps.RawBatch) -> Any:
    return steps.validate_raw(get_settings(), raw)


@task(name="validate-processed", cache_policy=NO_CACHE)
def validate_processed_task(clean: steps.CleanResult) -> Any:
    return steps.validate_processed(get_settings(), clean)


@task(name="load", cache_policy=NO_CACHE)
def load_task(
    raw: steps.RawBatch, clean: steps.CleanResult, run_id: str | None, started_at: datetime, reports: list[Any]
) -> Any:
    """COPY + partition swap + rollups, and the warehouse suite inside the same transaction."""
    return steps.load(get_settings(), raw, clean, flow_run_id=run_id, started_at=started_at, reports=reports)[1]


@task(name="day", cache_policy=NO_CACHE)
def day_task(day: date, scenario: str | None, regenerate: bool, run_id: str | None) -> steps.DayOutcome:
    return steps.run_day(
        get_settings(), day, scenario=scenario, regenerate=regenerate, flow_run_id=run_id, docs="on_failure"
    )


@task(name="data-docs", cache_policy=NO_CACHE)
def data_docs_task() -> str:
    from flows import quality

    return str(quality.build_data_docs(get_settings()))


@flow(name="daily-pipeline", on_failure=[alert_on_failure], on_crashed=[alert_on_failure])
def daily_pipeline(
    run_date: date | None = None,
    input_path: str | None = None,
    scenario: str | None = None,
    regenerate: bool = False,
) -> dict[str, Any]:
    """One day end to end. Without run_date: yesterday (UTC). With input_path: that landed CSV file or folder."""
    _preload_quality()
    settings = get_settings()
    configure_logging(settings)
    logger = get_run_logger()
    day = run_date or steps.yesterday_utc()
    started = datetime.now(UTC)
    run_id = _run_id()
    raw = clean = None
    reports: list[Any] = []
    try:
        if input_path is None:
            _retrying(customers_task, settings)()
        raw = _retrying(ingest_task, settings)(day, input_path, scenario, regenerate)
        reports.append(validate_raw_task(raw))
        steps.gate(settings, reports, flow_run_id=run_id)
        clean = transform_task(raw)
        reports.append(validate_processed_task(clean))
        steps.gate(settings, reports, flow_run_id=run_id)
        reports.append(_retrying(load_task, settings)(raw, clean, run_id, started, list(reports)))
    except BaseException as exc:
        steps.note_failure(settings, day, exc, raw=raw, clean=clean, flow_run_id=run_id, started_at=started)
        publish_artifacts(
            settings, day, reports, clean, status="blocked" if isinstance(exc, QualityGateFailed) else "failed"
        )
        raise
    outcome = steps.outcome_of(clean, (datetime.now(UTC) - started).total_seconds(), reports)
    publish_artifacts(settings, day, reports, clean, status="loaded")
    logger.info(
        "%s loaded: %d received, %d loaded, %d quarantined %s, %d duplicates dropped",
        day,
        outcome.rows_received,
        outcome.rows_loaded,
        outcome.rows_quarantined,
        outcome.quarantine_reasons or "",
        outcome.duplicates_dropped,
    )
    for warning in outcome.quality_warnings:
        logger.warning("quality warning: %s", warning)
    return outcome.__dict__


def _preload_quality() -> None:
    """Import Great Expectations (about 1.6 s) in the background while the first tasks wait on
    the database and the Prefect API, instead of inside the first validation."""
    import importlib
    import threading

    threading.Thread(target=importlib.import_module, args=("flows.quality",), name="gx-preload", daemon=True).start()


def publish_artifacts(
    settings: Settings, day: date, reports: list[Any], clean: steps.CleanResult | None, *, status: str
) -> None:
    """The run's Prefect artifacts: the quality summary, the row accounting, the Data Docs link."""
    from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact

    from flows.reporting import accounting_rows, data_docs_link, quality_markdown

    key = f"day-{day.isoformat()}"
    try:
        create_markdown_artifact(
            key=f"{key}-quality",
            markdown=quality_markdown(day, reports, status=status),
            description=f"Data quality of {day}",
        )
        if clean is not None:
            create_table_artifact(
                key=f"{key}-accounting", table=accounting_rows(clean), description=f"Row accounting of {day}"
            )
        link = data_docs_link(settings, reports)
        if link:
            create_link_artifact(
                key=f"{key}-data-docs",
                link=link,
                link_text=f"Data Docs of {day}",
                description="The day's validation results in Data Docs",
            )
    except Exception as exc:  # an artifact is a report, never a reason to fail the run
        get_run_logger().warning("could not publish artifacts: %s", exc)


@flow(
    name="backfill-pipeline",
    task_runner=ConfiguredTaskRunner(),  # threads or Dask, from the settings when the run starts
    on_failure=[alert_on_failure],
    on_crashed=[alert_on_failure],
)
def backfill_pipeline(
    start: date,
    end: date,
    concurrency: int | None = None,
    days: list[date] | None = None,
    scenario: str | None = None,
    regenerate: bool = False,
) -> list[dict[str, Any]]:
    """Every day from start to end (or exactly `days`), at most `concurrency` days at once."""
    settings = get_settings()
    configure_logging(settings)
    logger = get_run_logger()
    todo = sorted(days) if days else days_between(start, end)
    limit = max(1, concurrency or settings.backfill_concurrency)
    run_id = _run_id()
    _retrying(customers_task, settings)()
    day_runner = _retrying(day_task, settings)

    submitted: list[PrefectFuture] = []
    in_flight: list[PrefectFuture] = []
    for i, day in enumerate(todo):
        if len(in_flight) >= limit:
            finished = next(as_completed(in_flight))
            in_flight.remove(finished)
        future = day_runner.with_options(task_run_name=f"day-{day.isoformat()}").submit(
            day, scenario, regenerate, run_id
        )
        in_flight.append(future)
        submitted.append(future)
        if (i + 1) % 30 == 0:
            logger.info("backfill: %d/%d days submitted", i + 1, len(todo))

    outcomes, failed = [], []
    for day, future in zip(todo, submitted, strict=True):
        future.wait()
        state = future.state
        if state.is_completed():
            outcomes.append(future.result().__dict__)
        else:
            exc = state.result(raise_on_failure=False)
            failed.append(f"{day} ({type(exc).__name__}: {exc})")
            outcomes.append({"run_date": day, "status": "failed", "message": str(exc)})
    loaded = sum(1 for o in outcomes if o["status"] == "loaded")
    logger.info("backfill finished: %d/%d days loaded", loaded, len(todo))
    try:
        data_docs_task()  # the index once, not once per day
    except Exception as exc:
        logger.warning("could not rebuild Data Docs: %s", exc)
    if failed:
        raise BapError(
            f"{len(failed)} of {len(todo)} days failed: {'; '.join(failed[:5])}"
            f"{' ...' if len(failed) > 5 else ''}; re-run them with `bap gaps --start {todo[0]} --end {todo[-1]} --fill`"
        )
    return outcomes

"""Prefect flows: thin wrappers around `steps.run_days`, the one definition of the day's steps.

    daily_pipeline:    run_day with each step as its own task run (customers, ingest, validate-raw,
                       transform, validate-processed, load)
    backfill_pipeline: customers once -> [days-FIRST..LAST, ...] (one task run per chunk of days:
                       run_days whole), each day reported as its own task run day-YYYY-MM-DD

A small day's cost is almost all fixed (a GX run, a transaction), so the backfill runs its days in
chunks (settings.backfill_chunk_days, at most backfill_chunk_rows rows): the chunk's days are
validated together and blocked one by one (flows/quality/chunks.py). Every day keeps its own gate,
load, load_audit row, artifacts, lineage and task run (Failed when the day was blocked or failed);
a task run costs milliseconds where a flow run costs about a second.

An expected failure (flows.errors.expected_failure: a file that is not the contract, a failed
quality gate, the warehouse unreachable or failing until the retries run out) ends the flow run
Failed with its one-line message, returned as the run's final state: the Prefect UI, the run log
and the CLI's stderr show that line and no traceback. Any other exception propagates, and Prefect
logs it with its traceback.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from functools import partial
from typing import Any, ParamSpec, TypeVar, cast

from prefect import State, Task, flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import TaskRun
from prefect.futures import PrefectFuture, as_completed
from prefect.runtime import flow_run, task_run
from prefect.states import Failed

from flows import lineage, steps
from flows.errors import BapError, ContractError, QualityGateFailed, expected_failure
from flows.generate import days_between
from flows.logs import configure_logging
from flows.orchestration.hooks import alert_on_failure
from flows.orchestration.runners import ConfiguredTaskRunner
from flows.settings import Settings, get_settings
from flows.transform import CleanResult
from flows.warehouse.load import LoadResult

T = TypeVar("T")
P = ParamSpec("P")
R = TypeVar("R")
_PERMANENT = (ContractError, QualityGateFailed, ValueError)


def _retrying(fn: Task[P, R], settings: Settings) -> Task[P, R]:
    """Up to `retry_attempts` attempts of a step, unless its failure is one that a retry cannot fix
    (a bad file, a failed gate).

    The attempts are ended by the retry condition, not by running out of `retries`: Prefect logs
    the last failure of a task whose retries ran out with its traceback, and an outage that
    outlasts the retries is an expected failure. (So the log's "Retry n/N" counts N = attempts.)"""
    attempts = settings.retry_attempts

    def should_retry(task: Task[..., Any], task_run: TaskRun, state: State[Any]) -> bool:
        exc = state.result(raise_on_failure=False)
        return not isinstance(exc, _PERMANENT) and task_run.run_count < attempts

    return fn.with_options(
        retries=attempts, retry_delay_seconds=settings.retry_delay_s, retry_condition_fn=should_retry
    )


def _run_id() -> str | None:
    run_id = flow_run.get_id()
    return str(run_id) if run_id else None


def _ended_by(exc: Exception) -> State[Any]:
    """The final state of a run that `exc` (an expected failure) ended; re-raises anything else."""
    expected = expected_failure(exc)
    if expected is None:
        raise exc
    message = str(expected)
    get_run_logger().error(message)
    return Failed(message=message, data=expected)


# One task per step: the step function itself, named as the Prefect UI shows it.
customers_task = task(name="customers", cache_policy=NO_CACHE)(steps.sync_customer_feed)
customer_history_task = task(name="customers", cache_policy=NO_CACHE)(steps.sync_customer_history)
ingest_task = task(name="ingest", cache_policy=NO_CACHE)(steps.ingest)
validate_raw_task = task(name="validate-raw", cache_policy=NO_CACHE)(steps.validate_raw_days)
transform_task = task(name="transform", cache_policy=NO_CACHE)(steps.transform)
validate_processed_task = task(name="validate-processed", cache_policy=NO_CACHE)(steps.validate_processed_days)
load_task = task(name="load", cache_policy=NO_CACHE)(steps.load)

STEP_TASKS: dict[Callable[..., Any], Task[..., Any]] = {
    steps.sync_customer_feed: customers_task,
    steps.ingest: ingest_task,
    steps.validate_raw_days: validate_raw_task,
    steps.transform: transform_task,
    steps.validate_processed_days: validate_processed_task,
    steps.load: load_task,
}
RETRYING = (steps.sync_customer_feed, steps.ingest, steps.load)  # what a retry can fix: I/O and the warehouse


def run_steps_as_tasks(settings: Settings) -> steps.StepRunner:
    """A step runner that calls each step as its Prefect task (with retries where they help)."""
    tasks = {step: _retrying(t, settings) if step in RETRYING else t for step, t in STEP_TASKS.items()}

    def run_step(step: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        return cast(T, tasks[step](*args, **kwargs))

    return run_step


@task(name="days", cache_policy=NO_CACHE)
def chunk_task(days: list[date], scenario: str | None, regenerate: bool, run_id: str | None) -> list[dict[str, Any]]:
    """A chunk of a backfill's days through `steps.run_days`; each day reports as its own task run.

    A day that failed for a reason a retry may fix (the warehouse) fails the chunk's attempt, so
    Prefect retries it (its loaded days are unchanged on the re-run); on the last attempt the
    chunk returns every day's outcome, the failed ones included."""
    settings = get_settings()
    outcomes = steps.run_days(
        settings,
        days,
        scenario=scenario,
        regenerate=regenerate,
        flow_run_id=run_id,
        docs="on_failure",
        sync_customers=False,  # the backfill syncs the feed once for all its days
        on_end=partial(_report_backfill_day, settings),
    )
    retryable = [o for o in outcomes if isinstance(o, Exception) and not isinstance(o, _PERMANENT)]
    if retryable and (task_run.get_run_count() or 1) < settings.retry_attempts:
        raise retryable[0]
    rows = [_outcome_row(day, o) for day, o in zip(days, outcomes, strict=True)]
    _publish_chunk(days, rows)
    return rows


def _publish_chunk(days: list[date], rows: list[dict[str, Any]]) -> None:
    """The chunk's artifact: one row per day, its status and row accounting."""
    from prefect.artifacts import create_table_artifact

    columns = ("run_date", "status", "rows_received", "rows_loaded", "rows_loaded_earlier", "rows_quarantined")
    table = [{c: str(row.get(c, "")) for c in (*columns, "duplicates_dropped", "message")} for row in rows]
    try:
        create_table_artifact(
            key=f"backfill-{days[0].isoformat()}-to-{days[-1].isoformat()}",
            table=table,
            description=f"Days {days[0]}..{days[-1]} of a backfill: each day's status and row accounting",
        )
    except Exception as exc:  # an artifact is a report, never a reason to fail the run
        get_run_logger().warning("could not publish the chunk's artifact: %s", exc)


def _outcome_row(day: date, outcome: steps.DayOutcome | BaseException) -> dict[str, Any]:
    if isinstance(outcome, BaseException):
        status = "blocked" if isinstance(outcome, QualityGateFailed) else "failed"
        return {"run_date": day, "status": status, "message": f"{type(outcome).__name__}: {outcome}"}
    return dict(outcome.__dict__)


@task(name="day", cache_policy=NO_CACHE)
def day_task(run: steps.DayRun) -> State[Any] | str:
    """A backfill day's own unit in the Prefect UI: its lineage, Failed (with the gate's message)
    if the day was blocked or failed. (Its accounting is a row of the chunk's table artifact.)"""
    lineage.record_day(get_settings(), run)
    if run.error is not None:
        return Failed(message=f"{run.day} {run.status}: {type(run.error).__name__}: {run.error}")
    return f"{run.day} loaded"


def _report_backfill_day(settings: Settings, run: steps.DayRun) -> None:
    try:
        day_task.with_options(task_run_name=f"day-{run.day.isoformat()}")(run, return_state=True)
    except Exception as exc:  # a report, never a reason to fail the day
        get_run_logger().warning("could not report %s: %s", run.day, exc)


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
) -> dict[str, Any] | State[Any]:
    """One day end to end. Without run_date: yesterday (UTC). With input_path: that landed CSV file or folder."""
    settings = get_settings()
    configure_logging(settings)
    try:
        outcome = steps.run_day(
            settings,
            run_date or steps.yesterday_utc(),
            input_path=input_path,
            scenario=scenario,
            regenerate=regenerate,
            flow_run_id=_run_id(),
            docs="always",
            run_step=run_steps_as_tasks(settings),
            on_end=partial(report_day, settings),
        )
    except Exception as exc:
        return _ended_by(exc)
    logger = get_run_logger()
    logger.info(
        "%s loaded: %d received, %d loaded, %d quarantined %s, %d duplicates dropped",
        outcome.run_date,
        outcome.rows_received,
        outcome.rows_loaded,
        outcome.rows_quarantined,
        outcome.quarantine_reasons or "",
        outcome.duplicates_dropped,
    )
    for warning in outcome.quality_warnings:
        logger.warning("quality warning: %s", warning)
    return outcome.__dict__


def report_day(settings: Settings, run: steps.DayRun) -> None:
    """What a day's run leaves in Prefect, loaded or not: its artifacts and its lineage."""
    publish_artifacts(settings, run.day, run.reports, run.clean, status=run.status, loaded=run.loaded)
    lineage.record_day(settings, run)


def publish_artifacts(
    settings: Settings,
    day: date,
    reports: list[Any],
    clean: CleanResult | None,
    *,
    status: str,
    loaded: LoadResult | None = None,
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
                key=f"{key}-accounting", table=accounting_rows(clean, loaded), description=f"Row accounting of {day}"
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
) -> list[dict[str, Any]] | State[Any]:
    """Every day from start to end (or exactly `days`), at most `concurrency` days at once."""
    settings = get_settings()
    configure_logging(settings)
    todo = sorted(days) if days else days_between(start, end)
    try:
        _retrying(customer_history_task, settings)(settings, todo[0], todo[-1])
    except Exception as exc:
        return _ended_by(exc)
    outcomes, failed = _collect(_submit_days(settings, todo, concurrency, scenario, regenerate))
    logger = get_run_logger()
    logger.info("backfill finished: %d/%d days loaded", len(todo) - len(failed), len(todo))
    try:
        data_docs_task()  # the index once, not once per day
    except Exception as exc:
        logger.warning("could not rebuild Data Docs: %s", exc)
    if failed:
        return _ended_by(
            BapError(
                f"{len(failed)} of {len(todo)} days failed: {'; '.join(failed[:5])}"
                f"{' ...' if len(failed) > 5 else ''}; re-run them with `bap gaps --start {todo[0]} --end {todo[-1]} --fill`"
            )
        )
    return outcomes


def _submit_days(
    settings: Settings, todo: list[date], concurrency: int | None, scenario: str | None, regenerate: bool
) -> list[tuple[list[date], PrefectFuture[list[dict[str, Any]]]]]:
    """One task run per chunk of days (named by its days), at most `concurrency` at once; each day
    reports as its own task run, day-YYYY-MM-DD, inside its chunk's."""
    logger = get_run_logger()
    chunks = steps.chunks_of(settings, todo)
    limit = steps.chunks_at_once(settings, max(map(len, chunks), default=1), concurrency)
    logger.info("backfill: %d chunks of days, %d at once (BAP_BACKFILL_ROWS_IN_FLIGHT caps it)", len(chunks), limit)
    run_id = _run_id()
    runner = _retrying(chunk_task, settings)
    submitted: list[tuple[list[date], PrefectFuture[list[dict[str, Any]]]]] = []
    in_flight: list[PrefectFuture[list[dict[str, Any]]]] = []
    done = 0
    for chunk in chunks:
        if len(in_flight) >= limit:
            finished = next(as_completed(in_flight))
            in_flight.remove(finished)
        name = f"days-{chunk[0].isoformat()}" + (f"..{chunk[-1].isoformat()}" if len(chunk) > 1 else "")
        future = runner.with_options(task_run_name=name).submit(chunk, scenario, regenerate, run_id)
        in_flight.append(future)
        submitted.append((chunk, future))
        done += len(chunk)
        logger.info("backfill: %d/%d days submitted", done, len(todo))
    return submitted


def _collect(
    submitted: list[tuple[list[date], PrefectFuture[list[dict[str, Any]]]]],
) -> tuple[list[dict[str, Any]], list[str]]:
    """Each day's outcome, and a line for each day that failed or was blocked."""
    outcomes: list[dict[str, Any]] = []
    for chunk, future in submitted:
        future.wait()
        state = future.state
        if state.is_completed():
            outcomes += future.result()
        else:
            exc = state.result(raise_on_failure=False)
            message = f"{type(exc).__name__}: {exc}"
            outcomes += [{"run_date": day, "status": "failed", "message": message} for day in chunk]
    failed = [f"{o['run_date']} ({o['message']})" for o in outcomes if o["status"] != "loaded"]
    return outcomes, failed

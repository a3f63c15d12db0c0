"""The day's pipeline steps as plain functions: ingest -> transform -> load.

Nothing here knows Prefect: the flows in flows/pipeline.py wrap these in tasks with retries,
and tests call them directly. Each step reads what it needs from the settings and the lake,
so a step can run on another machine (a Dask worker) with only the settings in its environment.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import pyarrow as pa
import pyarrow.parquet as pq
import sqlalchemy as sa

from flows.dates import yesterday_utc
from flows.errors import BapError, QualityGateFailed
from flows.generate import GeneratorConfig, days_between, generate_customers, to_csv_bytes
from flows.ingest import RawBatch, land_files, partition_lock, raw_files, read_raw_partition, write_synthetic_day
from flows.settings import Settings
from flows.storage import DataLake
from flows.transform import CleanResult, clean_transactions
from flows.warehouse.connection import resolve_url, warehouse_engine
from flows.warehouse.customers import load_customers
from flows.warehouse.load import LoadResult, load_day, record_failure

if TYPE_CHECKING:
    from flows.quality.gx_project import Docs

log = logging.getLogger("bap.pipeline")
T = TypeVar("T")


def lake_of(settings: Settings) -> DataLake:
    return DataLake(settings.data_dir)


@lru_cache(maxsize=4)
def _engine_for(url: str) -> sa.Engine:
    engine = warehouse_engine(url)
    _ENGINES.append(engine)
    return engine


def dispose_engines() -> None:
    """Close every engine this process opened (at exit)."""
    for engine in list(_ENGINES):
        engine.dispose()


_ENGINES: list[sa.Engine] = []


def engine_of(settings: Settings) -> sa.Engine:
    """One engine per process and warehouse (connection-checked and migrated once)."""
    return _engine_for(resolve_url(settings))


def _generator_config(settings: Settings, scenario: str | None) -> GeneratorConfig:
    return GeneratorConfig(
        transactions=settings.transactions_per_day,
        customers=settings.customer_count,
        seed=settings.seed,
        defect_rate=settings.defect_rate,
        scenario=scenario,
    )


def sync_customer_feed(settings: Settings, day: date | None = None) -> int:
    """Write the deterministic customer feed as it stands on `day` to the raw zone and apply it to
    dim_customer as of that day (a change of segment or name opens a new customer version)."""
    day = day or yesterday_utc()
    lake = lake_of(settings)
    customers = generate_customers(settings.customer_count, settings.seed, as_of=day)
    data = to_csv_bytes(customers)
    path = lake.customers_path()
    if not lake.exists(path) or lake.read(path) != data:
        lake.write_atomic(path, data)
    return load_customers(engine_of(settings), customers, day)


def feed_days(first: date, last: date) -> list[date]:
    """The days whose customer feed a range needs, in order: its first day, then every first of a
    month up to its last day (the synthetic feed changes on the first of a month)."""
    firsts = [day for day in days_between(first, last) if day.day == 1 and day > first]
    return [first, *firsts]


def sync_customer_history(settings: Settings, first: date, last: date) -> int:
    """Apply the feed as it stood on each of `feed_days`, in time order, so dim_customer holds the
    versions a range of days went through (a backfill runs its days concurrently, and a feed
    older than a customer's current version changes nothing)."""
    return sum(sync_customer_feed(settings, day) for day in feed_days(first, last))


def ingest(
    settings: Settings,
    day: date,
    *,
    input_path: str | None = None,
    scenario: str | None = None,
    regenerate: bool = False,
) -> RawBatch:
    """Put the day's source into raw/YYYY/MM/DD and read it back as text held to the contract.

    With `input_path` the landed file(s) become the day's source. Without it, an existing raw
    partition is replayed (a re-run loads what arrived), unless `regenerate` or a `scenario`
    asks for a new synthetic day, or there is none yet.
    """
    lake = lake_of(settings)
    with partition_lock(lake, day):  # a concurrent run of the day lands or reads before or after, never during
        if input_path is not None:
            land_files(lake, day, input_path)
            source = f"landed:{input_path}"
        elif regenerate or scenario is not None or not raw_files(lake, day):
            write_synthetic_day(lake, day, _generator_config(settings, scenario))
            source = "synthetic" if scenario is None else f"synthetic:{scenario}"
        else:
            source = "replay"
        return read_raw_partition(lake, day, source)


def transform(settings: Settings, raw: RawBatch) -> CleanResult:
    """Clean the day and write processed and quarantine Parquet partitions (atomically)."""
    lake = lake_of(settings)
    clean = clean_transactions(raw.records, raw.malformed, raw.run_date, late_arrival_days=settings.late_arrival_days)
    lake.write_atomic(lake.processed_path(raw.run_date), _parquet_bytes(clean.processed))
    lake.write_atomic(lake.quarantine_path(raw.run_date), _parquet_bytes(clean.rejected))
    return clean


def _parquet_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd")
    data: bytes = sink.getvalue().to_pybytes()
    return data


def validate_raw(settings: Settings, raw: RawBatch, docs: Docs = "always") -> Any:
    """The raw suite (GX) on the day as read."""
    from flows import quality

    return quality.validate_raw(raw.records, raw.run_date, settings, docs=docs)


def validate_processed(settings: Settings, clean: CleanResult, docs: Docs = "always") -> Any:
    """The processed suite (GX) on the transform's output and the day's accounting."""
    from flows import quality

    return quality.validate_processed(
        clean.processed,
        clean.run_date,
        rows_received=clean.rows_received,
        rows_quarantined=clean.rejected.num_rows,
        settings=settings,
        docs=docs,
    )


def validate_batches(settings: Settings, raw: RawBatch, clean: CleanResult, docs: Docs = "never") -> list[Any]:
    return [validate_raw(settings, raw, docs), validate_processed(settings, clean, docs)]


def validate_raw_days(settings: Settings, raws: list[RawBatch], docs: Docs = "always") -> list[Any]:
    """The raw suite on each day, many days in one GX run where that proves each day's verdict
    (flows/quality/chunks.py); one day is exactly `validate_raw`."""
    from flows import quality

    return quality.validate_raw_days([(raw.run_date, raw.records) for raw in raws], settings, docs=docs)


def validate_processed_days(settings: Settings, cleans: list[CleanResult], docs: Docs = "always") -> list[Any]:
    """The processed suite on each day, as `validate_raw_days`."""
    from flows import quality

    days = [
        quality.ProcessedDay(
            c.run_date, c.processed, rows_received=c.rows_received, rows_quarantined=c.rejected.num_rows
        )
        for c in cleans
    ]
    return quality.validate_processed_days(days, settings, docs=docs)


def gate(settings: Settings, reports: list[Any], *, flow_run_id: str | None) -> None:
    """A critical failure stops the day here, before the load: the warehouse keeps its last good
    state. The results still go to dq_results so the history shows the blocked day."""
    from flows import quality

    if all(report.passed for report in reports):
        return
    try:
        quality.record_results(engine_of(settings), reports, flow_run_id or "local")
    except Exception as exc:  # the gate's message matters more than the history row
        log.warning("could not record quality results", extra={"error": str(exc)})
    raise QualityGateFailed(quality.format_failure(reports))


def load(
    settings: Settings,
    raw: RawBatch,
    clean: CleanResult,
    *,
    flow_run_id: str | None,
    started_at: datetime,
    reports: list[Any] | None = None,
) -> tuple[LoadResult, Any]:
    """Load the day; inside the same transaction, the warehouse suite checks it (a critical
    failure rolls the day back) and the day's quality results are recorded with it."""
    from flows import quality

    engine = engine_of(settings)
    checked: list[Any] = []

    def verify(conn: sa.Connection) -> None:
        # expected: every accepted record of the file is in the warehouse once (a fact or superseded)
        report = quality.check_warehouse_day(conn, clean.run_date, expected_rows=clean.processed.num_rows)
        checked.append(report)
        if not report.passed:
            raise QualityGateFailed(quality.format_failure([report]))
        quality.record_results(conn, [*(reports or []), report], flow_run_id or "local")

    try:
        result = load_day(
            engine,
            clean,
            source=raw.source,
            sha256=raw.sha256,
            flow_run_id=flow_run_id,
            started_at=started_at,
            verify=verify,
            window_days=settings.late_arrival_days,
        )
    except QualityGateFailed:
        quality.record_results(engine, [*(reports or []), *checked], flow_run_id or "local")
        raise
    return result, checked[0]


def note_failure(
    settings: Settings,
    day: date,
    exc: BaseException,
    *,
    status: str = "failed",
    raw: RawBatch | None = None,
    clean: CleanResult | None = None,
    flow_run_id: str | None = None,
    started_at: datetime | None = None,
) -> None:
    """Best effort: record the failed attempt in load_audit (skipped if the warehouse is the problem).
    A failed quality gate is recorded as 'blocked'."""
    if isinstance(exc, QualityGateFailed):
        status = "blocked"
    try:
        record_failure(
            engine_of(settings),
            day,
            status=status,
            message=f"{type(exc).__name__}: {exc}",
            source=raw.source if raw else None,
            sha256=raw.sha256 if raw else None,
            clean=clean,
            flow_run_id=flow_run_id,
            started_at=started_at,
        )
    except Exception as record_exc:  # the warehouse itself may be what failed
        log.warning("could not record the failure in load_audit", extra={"error": str(record_exc)})


@dataclass(frozen=True)
class DayOutcome:
    """A file day's run. rows_received = rows_loaded + rows_superseded + rows_quarantined +
    duplicates_dropped; rows_loaded_earlier and rows_corrections are parts of rows_loaded."""

    run_date: date
    status: str  # loaded | failed | blocked
    rows_received: int = 0
    rows_loaded: int = 0
    rows_loaded_earlier: int = 0  # late records and corrections loaded into days before the file's
    rows_corrections: int = 0  # records replacing an earlier file day's version of their transaction
    rows_superseded: int = 0  # records a later file day's version replaced
    days_changed: tuple[date, ...] = ()  # other file days whose accounting this run changed
    rows_quarantined: int = 0
    duplicates_dropped: int = 0
    quarantine_reasons: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    message: str = ""
    quality_warnings: list[str] = field(default_factory=list)


def outcome_of(
    clean: CleanResult, seconds: float, reports: list[Any] | None = None, loaded: LoadResult | None = None
) -> DayOutcome:
    """The run's outcome; with the load's result, its accounting of versions (else all loaded, own day)."""
    warnings = [f"{r.suite}: {o.describe()}" for r in (reports or []) for o in r.warnings]
    return DayOutcome(
        run_date=clean.run_date,
        status="loaded",
        rows_received=clean.rows_received,
        rows_loaded=loaded.rows_loaded if loaded else clean.processed.num_rows,
        rows_loaded_earlier=loaded.rows_loaded_earlier if loaded else 0,
        rows_corrections=loaded.rows_corrections if loaded else 0,
        rows_superseded=loaded.rows_superseded if loaded else 0,
        days_changed=loaded.days_changed if loaded else (),
        rows_quarantined=clean.rejected.num_rows,
        duplicates_dropped=clean.duplicates_dropped,
        quarantine_reasons=clean.quarantine_reasons,
        seconds=round(seconds, 3),
        quality_warnings=warnings,
    )


class StepRunner(Protocol):
    """How a step is called: directly, or as the Prefect task of that step (flows/pipeline.py)."""

    def __call__(self, step: Callable[..., T], /, *args: Any, **kwargs: Any) -> T: ...


def call_step(step: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """The plain runner: call the step."""
    return step(*args, **kwargs)


@dataclass
class DayRun:
    """One attempt at a day: what its steps produced so far, reported when it ends (loaded or not)."""

    day: date
    flow_run_id: str | None
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    raw: RawBatch | None = None
    clean: CleanResult | None = None
    loaded: LoadResult | None = None
    reports: list[Any] = field(default_factory=list)
    status: str = "running"  # then loaded | blocked | failed
    error: BaseException | None = None
    t0: float = field(default_factory=time.perf_counter)


def run_day(
    settings: Settings,
    day: date,
    *,
    input_path: str | None = None,
    scenario: str | None = None,
    regenerate: bool = False,
    flow_run_id: str | None = None,
    docs: Docs = "on_failure",
    sync_customers: bool = True,
    run_step: StepRunner = call_step,
    on_end: Callable[[DayRun], None] | None = None,
) -> DayOutcome:
    """`run_days` of one day: its outcome, or its failure raised (after it was recorded)."""
    (outcome,) = run_days(
        settings,
        [day],
        input_path=input_path,
        scenario=scenario,
        regenerate=regenerate,
        flow_run_id=flow_run_id,
        docs=docs,
        sync_customers=sync_customers,
        run_step=run_step,
        on_end=on_end,
    )
    if isinstance(outcome, BaseException):
        raise outcome
    return outcome


def run_days(
    settings: Settings,
    days: list[date],
    *,
    input_path: str | None = None,
    scenario: str | None = None,
    regenerate: bool = False,
    flow_run_id: str | None = None,
    docs: Docs = "on_failure",
    sync_customers: bool = True,
    run_step: StepRunner = call_step,
    on_end: Callable[[DayRun], None] | None = None,
) -> list[DayOutcome | BaseException]:
    """The day's step sequence, its one definition, over one day or a chunk of days: the customer
    feed (synthetic days; a backfill syncs it once and passes `sync_customers=False`), ingest, raw
    suite + gate, transform, processed suite + gate, load with the warehouse suite. The daily flow
    runs one day with `run_step` making each step a Prefect task; the backfill runs chunks of days.

    Every day keeps its own gate, failure and accounting: a day that fails a step is recorded and
    drops out, the others go on. The suites validate the chunk's days together where that proves
    each day's verdict (flows/quality/chunks.py). Returns each day's outcome or its exception, in
    order; `on_end` sees each attempt either way. Data Docs: a blocked day's page only with
    `docs="on_failure"` (the caller rebuilds the index once)."""
    runs = [DayRun(day, flow_run_id) for day in days]
    try:
        if sync_customers and input_path is None:
            _each(settings, runs, lambda run: run_step(sync_customer_feed, settings, run.day))
        get = {"input_path": input_path, "scenario": scenario, "regenerate": regenerate}
        _each(settings, runs, lambda run: setattr(run, "raw", run_step(ingest, settings, run.day, **get)))
        _validate(settings, runs, lambda live: run_step(validate_raw_days, settings, [r.raw for r in live], docs))
        _each(settings, runs, lambda run: setattr(run, "clean", run_step(transform, settings, run.raw)))
        _validate(
            settings, runs, lambda live: run_step(validate_processed_days, settings, [r.clean for r in live], docs)
        )
        _each(settings, runs, lambda run: _load_one(settings, run, run_step))
    except BaseException as exc:  # an interrupt: every day still running ends failed, recorded
        for run in _live(runs):
            _fail(settings, run, exc)
        _end(runs, on_end)
        raise
    for run in _live(runs):
        run.status = "loaded"
    _end(runs, on_end)
    return [run.error or _outcome(run) for run in runs]


def _end(runs: list[DayRun], on_end: Callable[[DayRun], None] | None) -> None:
    if on_end is not None:
        for run in runs:
            on_end(run)


def _outcome(run: DayRun) -> DayOutcome:
    assert run.clean is not None  # a loaded day was transformed
    return outcome_of(run.clean, time.perf_counter() - run.t0, run.reports, loaded=run.loaded)


def _live(runs: list[DayRun]) -> list[DayRun]:
    return [run for run in runs if run.status == "running"]


def _fail(settings: Settings, run: DayRun, exc: BaseException) -> None:
    """Record the day's failure (note_failure) and end it: blocked for a failed gate, else failed."""
    note_failure(
        settings, run.day, exc, raw=run.raw, clean=run.clean, flow_run_id=run.flow_run_id, started_at=run.started
    )
    run.status = "blocked" if isinstance(exc, QualityGateFailed) else "failed"
    run.error = exc


def _each(settings: Settings, runs: list[DayRun], step: Callable[[DayRun], object]) -> None:
    """A step of every day still running; a day whose step fails ends there, the others go on."""
    for run in _live(runs):
        try:
            step(run)
        except Exception as exc:
            _fail(settings, run, exc)


def _validate(settings: Settings, runs: list[DayRun], validate: Callable[[list[DayRun]], list[Any]]) -> None:
    """A suite on every day still running (one report each), then each day's gate."""
    live = _live(runs)
    if not live:
        return
    try:
        reports = validate(live)
    except Exception as exc:  # the suite itself failed to run: every day it was to check fails
        for run in live:
            _fail(settings, run, exc)
        return
    for run, report in zip(live, reports, strict=True):
        run.reports.append(report)
    _each(settings, live, lambda run: gate(settings, run.reports, flow_run_id=run.flow_run_id))


def _load_one(settings: Settings, run: DayRun, run_step: StepRunner) -> None:
    run.loaded, warehouse_report = run_step(
        load, settings, run.raw, run.clean, flow_run_id=run.flow_run_id, started_at=run.started, reports=run.reports
    )
    run.reports.append(warehouse_report)


def chunks_of(settings: Settings, days: list[date]) -> list[list[date]]:
    """A backfill's days in chunks of consecutive days for `run_days`: at most
    `backfill_chunk_days`, and at most `backfill_chunk_rows` rows (days of a million rows run one
    by one)."""
    by_rows = settings.backfill_chunk_rows // max(1, settings.transactions_per_day)
    size = max(1, min(settings.backfill_chunk_days, by_rows))
    return [days[i : i + size] for i in range(0, len(days), size)]


def chunks_at_once(settings: Settings, chunk_days: int, concurrency: int | None = None) -> int:
    """How many chunks of `chunk_days` days a backfill runs at once: the concurrency asked for, capped
    so that the rows in flight stay within `backfill_rows_in_flight` (memory grows with them)."""
    asked = max(1, concurrency or settings.backfill_concurrency)
    rows_per_chunk = max(1, settings.transactions_per_day * chunk_days)
    return max(1, min(asked, settings.backfill_rows_in_flight // rows_per_chunk))


def status_rows(settings: Settings, start: date, end: date) -> list[dict[str, Any]]:
    """load_audit of the file days in [start, end]: the accounting of what the warehouse holds."""
    from flows.warehouse.sql import sql

    with engine_of(settings).connect() as conn:
        result = conn.exec_driver_sql(sql("ops/status.sql"), {"start": start, "end": end})
        return [dict(row._mapping) for row in result]


__all__ = [
    "BapError",
    "DayOutcome",
    "DayRun",
    "StepRunner",
    "call_step",
    "chunks_at_once",
    "chunks_of",
    "gate",
    "validate_processed",
    "validate_raw",
    "validate_raw_days",
    "validate_processed_days",
    "engine_of",
    "ingest",
    "lake_of",
    "load",
    "note_failure",
    "outcome_of",
    "run_day",
    "run_days",
    "status_rows",
    "sync_customer_feed",
    "sync_customer_history",
    "transform",
    "yesterday_utc",
]

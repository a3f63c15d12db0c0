"""Many days in one GX run: a backfill's suites at the cost of a few validations, not one per day.

A suite's cost on a small day is almost all fixed (GX builds the same metric graph whatever the
size), so a backfill validates its days together and finds the failing days only when that fails:

1. A day whose own per-day facts fall outside what a run over many days can prove (its size
   outside the row-count band, rows outside its lateness window, a quarantine or success share
   over the line, no rows, a schema of its own) is validated alone with the committed suite, as
   a daily run would: GX decides it, with the day's own report and Data Docs page.
2. The others are concatenated and validated in one run of the same committed suite, with
   parameters under which a pass of the concatenation implies a pass of every day in it: every
   `mostly` is tightened so that all the days' unexpected values together fit within one day's
   allowance (see `raw_chunk_parameters`), the windows and
   date keys become their union (each day's own window was checked in step 1), the row-count
   band becomes the sum of the days' bands. Uniqueness over the concatenation implies it per day.
3. If that run has any failure (critical or warning), the days are split in halves and each half
   is validated the same way, down to single days, which run the committed suite alone. A bad day
   among 30 costs about 2 log2(30) runs instead of 30, and is blocked by its own run.

A day that passed as part of a run gets its own report: every expectation passed, its element
counts are its own, and each observed value is the run's, labelled with the days validated
together (`{"validated_with": "first..last (n days)", "observed": ...}`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from flows.quality import gx_project
from flows.quality.batches import gx_frame, processed_parameters, raw_parameters, row_count_band
from flows.quality.gx_project import Docs
from flows.quality.model import SuiteReport
from flows.settings import Settings

ROW_COUNT = "expect_table_row_count_to_be_between"


@dataclass(frozen=True)
class DayBatch:
    """One day's batch for a suite: its table, its own parameters, and whether a run over many
    days can prove its per-day facts (else it is validated alone)."""

    run_date: date
    table: pa.Table
    parameters: dict[str, Any]
    provable: bool


@dataclass(frozen=True)
class ProcessedDay:
    """What the processed suite needs of a day: its output and its accounting."""

    run_date: date
    processed: pa.Table
    rows_received: int
    rows_quarantined: int


def raw_batches(settings: Settings, days: Sequence[tuple[date, pa.Table]]) -> list[DayBatch]:
    """The raw suite's batches: a day is provable when its size is within the row-count band."""
    low, high = row_count_band(settings)
    parameters = raw_parameters(settings)
    return [
        DayBatch(day, table, parameters, low <= table.num_rows and (high is None or table.num_rows <= high))
        for day, table in days
    ]


def raw_chunk_parameters(settings: Settings, batches: Sequence[DayBatch]) -> dict[str, Any]:
    """The raw suite's parameters for `batches` together. A field rule may fail on a share 1 - m
    of a day's values (m = field_mostly): over the concatenation its share must be at most
    (1 - m) x (fewest non-null values of any column in any day) / (rows of all days), so that
    the unexpected values of all days together fit within what any one day may have."""
    low, high = row_count_band(settings)
    n = len(batches)
    total = sum(b.table.num_rows for b in batches)
    fewest = min(b.table.num_rows - column.null_count for b in batches for column in b.table.columns)
    allowed = (1.0 - raw_parameters(settings)["field_mostly"]) * fewest / total if total else 0.0
    mostly = min(1.0, 1.0 - allowed + 1e-9)  # rounding may only make the chunk stricter
    return {"min_rows": low * n, "max_rows": None if high is None else high * n, "field_mostly": mostly}


def _within_window(table: pa.Table, parameters: dict[str, Any]) -> bool:
    start = datetime.fromisoformat(parameters["window_start"])
    end = datetime.fromisoformat(parameters["window_end"])
    ts = pc.min_max(table["transaction_ts"])
    low, high = ts["min"].as_py(), ts["max"].as_py()
    keys = pa.array(parameters["date_keys"], table["date_key"].type)
    in_keys = pc.all(pc.is_in(table["date_key"], value_set=keys)).as_py()
    return low is not None and high is not None and start <= low and high < end and bool(in_keys)


def _provable_processed(settings: Settings, day: ProcessedDay, parameters: dict[str, Any]) -> bool:
    table = day.processed
    if table.num_rows == 0 or table["transaction_ts"].null_count or table["date_key"].null_count:
        return False
    share = day.rows_quarantined / day.rows_received if day.rows_received else 0.0
    successes = pc.sum(pc.equal(table["status"], "SUCCESS")).as_py() or 0
    return (
        share <= settings.quarantine_threshold
        and successes / table.num_rows >= parameters["min_success_share"]
        and _within_window(table, parameters)
    )


def processed_batches(settings: Settings, days: Sequence[ProcessedDay]) -> list[DayBatch]:
    """The processed suite's batches: a day is provable when its rows are within its own window
    and date keys, and its quarantine and success shares are within their lines."""
    batches = []
    for day in days:
        parameters = processed_parameters(
            settings, day.run_date, rows_received=day.rows_received, rows_quarantined=day.rows_quarantined
        )
        batches.append(
            DayBatch(day.run_date, day.processed, parameters, _provable_processed(settings, day, parameters))
        )
    return batches


def processed_chunk_parameters(settings: Settings, batches: Sequence[DayBatch]) -> dict[str, Any]:
    first, *rest = [b.parameters for b in batches]
    parameters = dict(first)
    for other in rest:
        parameters["window_start"] = min(parameters["window_start"], other["window_start"])
        parameters["window_end"] = max(parameters["window_end"], other["window_end"])
        parameters["date_keys"] = sorted(set(parameters["date_keys"]) | set(other["date_keys"]))
        parameters["rows_received"] += other["rows_received"]
        parameters["rows_quarantined"] += other["rows_quarantined"]
    return parameters


ChunkParameters = Callable[[Settings, Sequence[DayBatch]], dict[str, Any]]


def validate_days(
    settings: Settings, suite: str, batches: Sequence[DayBatch], chunk_parameters: ChunkParameters, docs: Docs
) -> list[SuiteReport]:
    """Each batch's report, in order (see the module docstring)."""
    reports: dict[int, SuiteReport] = {}
    groups: dict[pa.Schema, list[int]] = {}
    for i, batch in enumerate(batches):
        if batch.provable and len(batches) > 1:
            groups.setdefault(batch.table.schema, []).append(i)
        else:
            reports[i] = _alone(settings, suite, batch, docs)
    todo = list(groups.values())
    while todo:
        group = todo.pop()
        if len(group) == 1:
            reports[group[0]] = _alone(settings, suite, batches[group[0]], docs)
            continue
        together = [batches[i] for i in group]
        chunk = _together(settings, suite, together, chunk_parameters(settings, together))
        if chunk.passed and not chunk.warnings:
            reports.update({i: day_report(chunk, batches[i], together) for i in group})
        else:
            middle = len(group) // 2
            todo += [group[middle:], group[:middle]]
    return [reports[i] for i in range(len(batches))]


def _alone(settings: Settings, suite: str, batch: DayBatch, docs: Docs) -> SuiteReport:
    return gx_project.run_suite(settings, suite, gx_frame(batch.table), batch.run_date, batch.parameters, docs=docs)


def _label(together: Sequence[DayBatch]) -> str:
    days = sorted(b.run_date for b in together)
    return f"{days[0].isoformat()}..{days[-1].isoformat()} ({len(days)} days)"


def _together(settings: Settings, suite: str, together: Sequence[DayBatch], parameters: dict[str, Any]) -> SuiteReport:
    table = pa.concat_tables([b.table for b in together])
    first = min(b.run_date for b in together)
    name = _label(together)
    return gx_project.run_suite(settings, suite, gx_frame(table), first, parameters, docs="never", run_name=name)


def day_report(chunk: SuiteReport, batch: DayBatch, together: Sequence[DayBatch]) -> SuiteReport:
    """A day's report from a passed run over the days `together` (see the module docstring)."""
    label = _label(together)
    rows = batch.table.num_rows
    outcomes = []
    for o in chunk.outcomes:
        observed: Any = rows if o.expectation == ROW_COUNT else {"validated_with": label, "observed": o.observed_value}
        outcomes.append(
            replace(
                o,
                observed_value=observed,
                element_count=None if o.element_count is None else rows,
                unexpected_count=0 if o.unexpected_count == 0 else None,
            )
        )
    return replace(chunk, run_date=batch.run_date, outcomes=tuple(outcomes))

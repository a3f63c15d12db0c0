"""Data quality: the raw, processed and warehouse suites of a day, their gate, Data Docs, history.

Plain functions (no Prefect, no Gradio): the flow calls them and turns a failed gate into
`QualityGateFailed(format_failure(reports))`.

- `validate_raw` / `validate_processed` run the committed GX checkpoints of the GX file project in
  expectations/gx (suites: expectations/gx/expectations/{raw,processed}.json, the one place they
  are defined) on the in-memory day, store the result and update Data Docs under
  <data_dir>/quality/data_docs (page of the run + the bounded index).
- `check_warehouse_day` runs the warehouse suite (one SQL query, see flows/quality/warehouse.py).
- `record_results` writes the reports to dq_results; `build_data_docs` rebuilds the site;
  `format_failure` is the one-line message of a blocked day.
- Data Docs work offline: the CSS/JS GX's pages load from CDNs are vendored and every page is
  pointed at the site's copies right after GX builds it (flows/quality/offline_docs.py).

Every expectation is `critical` (a failure blocks the day before the load, so the warehouse keeps
its last good state) or `warning` (reported, never blocking), via GX 1.x's own `severity` field.

Which generator scenario trips which expectation (each verified by tests/quality/test_scenarios.py):

| scenario             | suite     | expectation (stable id)                                   | severity |
|----------------------|-----------|-----------------------------------------------------------|----------|
| `duplicate-storm`    | raw       | `expect_column_values_to_be_unique:transaction_id`        | warning  |
| `null-ids`           | raw       | `expect_column_values_to_not_be_null:transaction_id`      | critical |
| `negative-amounts`   | raw       | `expect_column_values_to_match_regex:amount`              | critical |
| `status-drift`       | raw       | `expect_column_values_to_match_regex:status`              | critical |
| `volume-drop`        | raw       | `expect_table_row_count_to_be_between`                    | critical |
| `failure-rate-surge` | processed | `expect_column_values_to_be_in_set:status[failure_rate]`  | warning  |

null-ids, negative-amounts and status-drift also trip, after the transform, the processed suite's
`expect_quarantined_share_to_be_at_most` (critical, share > BAP_QUARANTINE_THRESHOLD): the raw
checks name the broken field, the share is the overall gate. A duplicate storm is dropped (exact
copies) or quarantined (same id, other content; ~2 % here) by the transform, so it only warns.
A surge of failures is real business data, so it warns. A volume drop blocks: a truncated file
must not replace a good day (widen BAP_ROW_COUNT_TOLERANCE or set BAP_EXPECTED_ROWS_PER_DAY for
landed files whose size differs).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow as pa

from flows.quality import chunks, gx_project
from flows.quality.batches import gx_frame, processed_parameters, raw_parameters
from flows.quality.chunks import ProcessedDay
from flows.quality.gx_project import Docs
from flows.quality.model import ExpectationOutcome, SuiteReport, format_failure
from flows.quality.warehouse import check_warehouse_day, record_results
from flows.settings import Settings

__all__ = [
    "Docs",
    "ExpectationOutcome",
    "ProcessedDay",
    "SuiteReport",
    "build_data_docs",
    "check_warehouse_day",
    "data_docs_index",
    "format_failure",
    "record_results",
    "validate_processed",
    "validate_processed_days",
    "validate_raw",
    "validate_raw_days",
]


def validate_raw(
    raw: pa.Table, run_date: date, settings: Settings, *, expected_rows: int | None = None, docs: Docs = "always"
) -> SuiteReport:
    """The raw suite on the day as read (every contract column as text, extra columns allowed).

    `expected_rows` overrides the centre of the row-count band for this call (default: the
    settings). `docs`: "always" updates the run's Data Docs page and the index (~0.5-1 s at any
    size); "on_failure" (a backfill) builds only a blocked day's page - run `build_data_docs`
    once at the end; "never" builds nothing. The result is stored in every case.
    """
    return gx_project.run_suite(
        settings, "raw", gx_frame(raw), run_date, raw_parameters(settings, expected_rows=expected_rows), docs=docs
    )


def validate_processed(
    processed: pa.Table,
    run_date: date,
    *,
    rows_received: int,
    rows_quarantined: int,
    settings: Settings,
    docs: Docs = "always",
) -> SuiteReport:
    """The processed suite on the transform's output, with the day's accounting for the quarantine
    share (`docs` as for validate_raw)."""
    parameters = processed_parameters(
        settings, run_date, rows_received=rows_received, rows_quarantined=rows_quarantined
    )
    return gx_project.run_suite(settings, "processed", gx_frame(processed), run_date, parameters, docs=docs)


def validate_raw_days(days: list[tuple[date, pa.Table]], settings: Settings, *, docs: Docs) -> list[SuiteReport]:
    """The raw suite on many days at once (a backfill), one report per day in order: days are
    validated together and the failing ones found only when that fails (flows/quality/chunks.py).
    One day is exactly `validate_raw`."""
    return chunks.validate_days(settings, "raw", chunks.raw_batches(settings, days), chunks.raw_chunk_parameters, docs)


def validate_processed_days(days: list[ProcessedDay], settings: Settings, *, docs: Docs) -> list[SuiteReport]:
    """The processed suite on many days at once, as `validate_raw_days`."""
    batches = chunks.processed_batches(settings, days)
    return chunks.validate_days(settings, "processed", batches, chunks.processed_chunk_parameters, docs)


def build_data_docs(settings: Settings) -> Path:
    """Rebuild the Data Docs site (suites, the latest BAP_DATA_DOCS_INDEX_LIMIT validations, the
    index) and return the path of its index.html."""
    return gx_project.build_docs(settings)


def data_docs_index(settings: Settings) -> Path:
    """Where the Data Docs index is (built or not), without loading GX: for `bap docs` to serve."""
    return gx_project.quality_paths(settings).docs_index

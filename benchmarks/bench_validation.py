"""Validation speed: GX raw + processed suites against the transform and a pure-pyarrow baseline.

Figures (medians of `--repeats` runs, all in the same process, on the same generated day):
- transform_seconds:   flows.transform.clean_transactions on the day (the budget's yardstick)
- raw/processed_seconds: validate_raw / validate_processed with docs="never" (validation + storing
                        the GX result; Data Docs cost is size-independent, measured below)
- pyarrow_*_seconds:   the same checks written directly in pyarrow.compute (the floor: what the
                        checks cost without GX)
- overhead at a small day (500 rows, median of `--small-runs`): per-validation fixed cost with
  docs "never" (a backfill), and "always" (a daily run: page + bounded index), the latter again
  once `--history` validations are stored (the index is bounded, so it should not grow)
- context_load_seconds: first use in a process (GX import + loading the file project)

Run: python -m benchmarks.bench_validation [--rows 1000000] [--repeats 3] [--small-runs 20] [--history 300]
                                           [--json out.json]
Tests never assert these times; they depend on the machine (and on what else it runs).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from flows.contract import MAX_PROCESSING_TIME_S, PROCESSED_COLUMNS, RAW_COLUMNS
from flows.generate import GeneratorConfig, generate_transactions, to_csv_bytes
from flows.ingest import parse_raw_csv
from flows.reference import CHANNELS, FAST_BELOW_S, SLOW_FROM_S, STATUSES
from flows.settings import Settings
from flows.transform import CleanResult, clean_transactions

DAY = date(2024, 6, 3)


def timed(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def median_of(fn: Callable[[], Any], repeats: int) -> float:
    return statistics.median(timed(fn) for _ in range(repeats))


def read_day(rows: int) -> pa.Table:
    """The day's raw records as the contract reader returns them (text columns + source_file/row)."""
    records, _malformed, _notes = parse_raw_csv(
        to_csv_bytes(generate_transactions(DAY, GeneratorConfig(transactions=rows))), source_file="transactions.csv"
    )
    return records


def transform(records: pa.Table) -> CleanResult:
    from flows.ingest import MALFORMED_SCHEMA

    return clean_transactions(records, MALFORMED_SCHEMA.empty_table(), DAY)


# --- the same checks in plain pyarrow (the floor) -----------------------------------------------


def _regex_share(column: pa.ChunkedArray, pattern: str) -> float:
    return pc.mean(pc.cast(pc.match_substring_regex(column, pattern), pa.int8())).as_py() or 0.0


def pyarrow_raw_checks(raw: pa.Table, regexes: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "columns": set(RAW_COLUMNS) <= set(raw.column_names),
        "types": all(raw.schema.field(c).type == pa.string() for c in RAW_COLUMNS),
        "rows": raw.num_rows,
    }
    for column in ("transaction_id", "customer_id", "city", "state"):
        out[f"nulls_{column}"] = raw.column(column).null_count
    ids = raw.column("transaction_id")
    out["duplicate_ids"] = len(ids) - ids.null_count - pc.count_distinct(ids).as_py()
    for column, pattern in regexes.items():
        out[f"regex_{column}"] = _regex_share(raw.column(column), pattern)
    return out


def pyarrow_processed_checks(processed: pa.Table, day: date) -> dict[str, Any]:
    start = pa.scalar(pa.scalar(day.isoformat()).cast(pa.timestamp("s")).as_py(), pa.timestamp("us", tz="UTC"))
    end = pa.scalar(
        pa.scalar((day + timedelta(days=1)).isoformat()).cast(pa.timestamp("s")).as_py(), pa.timestamp("us", tz="UTC")
    )
    ts = processed.column("transaction_ts")
    pt = processed.column("processing_time_s")
    bucket = processed.column("processing_delay_bucket")
    expected_bucket = pc.if_else(
        pc.less(pt, FAST_BELOW_S), "fast", pc.if_else(pc.less(pt, SLOW_FROM_S), "medium", "slow")
    )
    amount = pc.cast(processed.column("amount"), pa.float64())
    fee = pc.cast(processed.column("fee_percent"), pa.float64())
    revenue = pc.cast(processed.column("revenue"), pa.float64())
    earns = pc.equal(processed.column("status"), "SUCCESS")
    expected_revenue = pc.if_else(earns, pc.divide(pc.multiply(amount, fee), 100.0), 0.0)
    ids = processed.column("transaction_id")
    status = processed.column("status")
    return {
        "columns": tuple(processed.column_names) == PROCESSED_COLUMNS,
        "nulls": sum(processed.column(c).null_count for c in PROCESSED_COLUMNS),
        "duplicate_ids": len(ids) - pc.count_distinct(ids).as_py(),
        "min_amount": pc.min(processed.column("amount")).as_py(),
        "bad_status": pc.sum(pc.invert(pc.is_in(status, pa.array(STATUSES)))).as_py(),
        "bad_channel": pc.sum(pc.invert(pc.is_in(processed.column("channel"), pa.array(list(CHANNELS))))).as_py(),
        "outside_day": pc.sum(pc.or_(pc.less(ts, start), pc.greater_equal(ts, end))).as_py(),
        "bad_time": pc.sum(pc.or_(pc.less(pt, 0.0), pc.greater_equal(pt, MAX_PROCESSING_TIME_S))).as_py(),
        "bad_bucket": pc.sum(pc.not_equal(bucket, expected_bucket)).as_py(),
        "bad_revenue": pc.sum(pc.greater(pc.abs(pc.subtract(revenue, expected_revenue)), 0.01 + 1e-9)).as_py(),
        "failure_share": pc.mean(pc.cast(pc.equal(status, "FAILED"), pa.int8())).as_py(),
    }


def raw_regexes() -> dict[str, str]:
    from flows.quality.gx_project import PROJECT_ROOT

    suite = json.loads((PROJECT_ROOT / "gx" / "expectations" / "raw.json").read_text(encoding="utf-8"))
    return {
        e["kwargs"]["column"]: e["kwargs"]["regex"] for e in suite["expectations"] if e["type"].endswith("match_regex")
    }


def run(rows: int = 1_000_000, repeats: int = 3, small_runs: int = 20, history: int = 300) -> dict[str, Any]:
    from flows import quality

    figures: dict[str, Any] = {
        "rows": rows,
        "repeats": repeats,
        "small_rows": 500,
        "small_runs": small_runs,
        "history": history,
    }
    with tempfile.TemporaryDirectory(prefix="bap-bench-validation-") as tmp:
        settings = Settings(data_dir=f"{tmp}/data", transactions_per_day=rows)

        records = read_day(rows)
        figures["transform_seconds"] = median_of(lambda: transform(records), repeats)
        clean = transform(records)
        processed = clean.processed

        figures["context_load_seconds"] = timed(lambda: quality.gx_project.project_for(settings))

        def raw_once() -> quality.SuiteReport:
            return quality.validate_raw(records, DAY, settings, docs="never")

        def processed_once() -> quality.SuiteReport:
            return quality.validate_processed(
                processed,
                DAY,
                rows_received=clean.rows_received,
                rows_quarantined=clean.rejected.num_rows,
                settings=settings,
                docs="never",
            )

        assert raw_once().passed and processed_once().passed, "the benchmark day should pass its suites"
        figures["raw_seconds"] = median_of(raw_once, repeats)
        figures["processed_seconds"] = median_of(processed_once, repeats)
        figures["validate_seconds"] = figures["raw_seconds"] + figures["processed_seconds"]

        regexes = raw_regexes()
        figures["pyarrow_raw_seconds"] = median_of(lambda: pyarrow_raw_checks(records, regexes), repeats)
        figures["pyarrow_processed_seconds"] = median_of(lambda: pyarrow_processed_checks(processed, DAY), repeats)
        figures["pyarrow_seconds"] = figures["pyarrow_raw_seconds"] + figures["pyarrow_processed_seconds"]

        # Fixed cost per validation on a small day (a backfill validates hundreds of them).
        small = read_day(500)
        small_clean = transform(small)
        small_settings = Settings(data_dir=f"{tmp}/small", transactions_per_day=500)
        quality.gx_project.project_for(small_settings)
        stored = 0

        def small_day(docs: str, runs: int) -> tuple[float, float]:
            nonlocal stored
            raw_times, processed_times = [], []
            for _ in range(runs):
                day = DAY + timedelta(days=stored // 2)
                raw_times.append(timed(lambda day=day: quality.validate_raw(small, day, small_settings, docs=docs)))
                processed_times.append(
                    timed(
                        lambda day=day: quality.validate_processed(
                            small_clean.processed,
                            day,
                            rows_received=small_clean.rows_received,
                            rows_quarantined=small_clean.rejected.num_rows,
                            settings=small_settings,
                            docs=docs,
                        )
                    )
                )
                stored += 2
            return statistics.median(raw_times), statistics.median(processed_times)

        for docs in ("never", "always"):
            figures[f"small_raw_seconds_docs_{docs}"], figures[f"small_processed_seconds_docs_{docs}"] = small_day(
                docs, small_runs
            )
        figures["build_data_docs_seconds"] = timed(lambda: quality.build_data_docs(small_settings))
        if history > stored:
            small_day("never", (history - stored) // 2)
        raw_late, processed_late = small_day("always", small_runs)
        figures["stored_validations"] = stored
        figures["small_seconds_docs_always_late"] = raw_late + processed_late
        figures["build_data_docs_seconds_late"] = timed(lambda: quality.build_data_docs(small_settings))

    figures["validate_vs_transform"] = figures["validate_seconds"] / figures["transform_seconds"]
    figures["validate_vs_pyarrow"] = figures["validate_seconds"] / figures["pyarrow_seconds"]
    return figures


def report(f: dict[str, Any]) -> str:
    lines = [
        f"day of {f['rows']:,} rows, medians of {f['repeats']}",
        f"  transform (clean_transactions)        {f['transform_seconds']:8.3f} s",
        f"  GX raw suite                          {f['raw_seconds']:8.3f} s",
        f"  GX processed suite                    {f['processed_seconds']:8.3f} s",
        f"  GX raw + processed                    {f['validate_seconds']:8.3f} s   "
        f"= {f['validate_vs_transform']:.2f} x transform (budget 1.5 x)",
        f"  pyarrow baseline raw + processed      {f['pyarrow_seconds']:8.3f} s   "
        f"(raw {f['pyarrow_raw_seconds']:.3f}, processed {f['pyarrow_processed_seconds']:.3f}); GX = "
        f"{f['validate_vs_pyarrow']:.1f} x the floor",
        f"  first use in a process (import + load) {f['context_load_seconds']:7.3f} s",
        f"day of {f['small_rows']} rows, medians of {f['small_runs']} (fixed cost per validation)",
        f"  raw       docs=never {f['small_raw_seconds_docs_never']:.3f} s   docs=always {f['small_raw_seconds_docs_always']:.3f} s",
        f"  processed docs=never {f['small_processed_seconds_docs_never']:.3f} s   docs=always {f['small_processed_seconds_docs_always']:.3f} s",
        f"  build_data_docs (site of {4 * f['small_runs']} validations) {f['build_data_docs_seconds']:.3f} s",
        f"  with {f['stored_validations']} validations stored: raw + processed docs=always "
        f"{f['small_seconds_docs_always_late']:.3f} s, build_data_docs {f['build_data_docs_seconds_late']:.3f} s "
        "(index bounded by BAP_DATA_DOCS_INDEX_LIMIT)",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--small-runs", type=int, default=20)
    parser.add_argument("--history", type=int, default=300, help="validations stored before the late docs figure")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    figures = run(args.rows, args.repeats, args.small_runs, args.history)
    print(report(figures))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(figures, out, indent=2)


if __name__ == "__main__":
    main()

"""The warehouse suite (plain SQL) and the quality history table dq_results.

Why the warehouse checks are one SQL file rather than a GX SQL datasource: they must run on the
loader's own connection, inside the day's load transaction, so a failure rolls the day back
before anything commits; a GX datasource opens its own engine from a connection string (which
GX would then have to hold) and can only see committed rows. One query also answers every check
in a single round trip (~ms) instead of one query per expectation. The results have the same
shape as the GX suites' (SuiteReport), so dq_results, the failure message and the artifacts treat
all three suites alike; they are not rendered in Data Docs (no GX validation result exists).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta

import sqlalchemy as sa

from flows.dates import date_key
from flows.quality.model import ExpectationOutcome, SuiteReport
from flows.warehouse.sql import sql


@contextmanager
def _connection(engine_or_conn: sa.Engine | sa.Connection, *, write: bool = False) -> Iterator[sa.Connection]:
    """The caller's connection as is (its transaction, its commit), or a connection of an engine
    (committed on success when `write`)."""
    if isinstance(engine_or_conn, sa.Connection):
        yield engine_or_conn
    elif write:
        with engine_or_conn.begin() as conn:
            yield conn
    else:
        with engine_or_conn.connect() as conn:
            yield conn


def check_warehouse_day(
    engine_or_conn: sa.Engine | sa.Connection, run_date: date, *, expected_rows: int, late_arrival_days: int = 0
) -> SuiteReport:
    """The warehouse suite for the load of the file of `run_date`.

    `expected_rows` is the file's loaded row count as the load reports it (`LoadResult.rows_loaded`,
    the processed rows it wrote): the warehouse must hold exactly that many rows of this load. The
    SQL also gets the window the file's records may fall in (`first_date_key` .. `date_key`, i.e.
    BAP_LATE_ARRIVAL_DAYS before the day; a window of 0 days is the day alone). Critical: no fact
    row has a dangling foreign key, revenue = round(amount x fee_percent / 100, 2) for SUCCESS (0
    otherwise) and fee_percent is the channel's; warning: the rollups add up to the facts. Pass
    the load's connection to check the day before it commits."""
    params = {
        "date_key": date_key(run_date),
        "first_date_key": date_key(run_date - timedelta(days=late_arrival_days)),
        "run_date": run_date,
        "expected_rows": int(expected_rows),
    }
    with _connection(engine_or_conn) as conn:
        rows = conn.exec_driver_sql(sql("quality/warehouse_day.sql"), params).mappings().all()
    outcomes = tuple(
        ExpectationOutcome(
            suite="warehouse",
            expectation=row["expectation"],
            severity=row["severity"],
            success=bool(row["success"]),
            observed_value=json.loads(json.dumps(row["observed_value"], default=str)),
            unexpected_count=row["unexpected_count"],
            element_count=row["element_count"],
        )
        for row in rows
    )
    return SuiteReport(suite="warehouse", run_date=run_date, outcomes=outcomes, data_docs_url=None)


def record_results(conn: sa.Connection | sa.Engine, reports: list[SuiteReport], run_id: str) -> None:
    """Replace each report's day x suite rows in dq_results with its outcomes.

    On a Connection this runs in the caller's transaction (commit it, or run it inside the load
    transaction); on an Engine it commits by itself.
    """
    with _connection(conn, write=True) as connection:
        for report in reports:
            key = {"run_date": report.run_date, "suite": report.suite}
            connection.exec_driver_sql(sql("quality/delete_results.sql"), key)
            outcomes = [
                {
                    "expectation": o.expectation,
                    "severity": o.severity,
                    "success": o.success,
                    "observed_value": o.observed_text,
                    "unexpected_count": o.unexpected_count,
                    "element_count": o.element_count,
                }
                for o in report.outcomes
            ]
            connection.exec_driver_sql(
                sql("quality/insert_results.sql"),
                {
                    **key,
                    "run_id": run_id,
                    "validated_at": report.validated_at,
                    "data_docs_url": report.data_docs_url,
                    "outcomes": json.dumps(outcomes, default=str),
                },
            )

"""Dashboard speed at scale: rollups against the raw fact table, in the same run.

Builds its own warehouse in a throwaway database (facts made by generate_series straight into day
partitions, rollups filled with the load step's own SQL per day), then replays a set of realistic
filter changes. Each change is timed server-side as the dashboard computes it (every query a view
needs, plus assembling the view), once through the rollups and once through the naive queries that
aggregate fact_transactions, and the two results are checked to agree.

    python -m benchmarks.bench_dashboard --facts 1000000
    python benchmarks/bench_dashboard.py --facts 10000000 --json bench-results/dashboard.json

Needs a PostgreSQL server where it may create a database (BAP_BENCH_PG_URL, else BAP_TEST_PG_URL,
else postgresql://postgres@127.0.0.1:5432/postgres).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import statistics
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from flows.dates import date_key
from flows.reference import CITIES, SEGMENTS, region_of
from flows.warehouse.connection import make_engine
from flows.warehouse.migrate import apply_migrations
from flows.warehouse.rollups import rebuild_rollups
from ui.queries import DashboardQueries
from ui.view import Filters

DEFAULT_ADMIN_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"

# --- synthetic data ----------------------------------------------------------------------------
# Failure probability and mean processing time per channel, a regional twist on both, and a
# weekly rhythm in volume: enough texture for the charts to have something to show.
_CHANNEL_PROFILE = {1: (0.035, 1.8), 2: (0.028, 1.5), 3: (0.055, 0.9), 4: (0.075, 3.2)}
_REGION_FAILURE_FACTOR = {"North": 1.0, "West": 0.85, "South": 0.8, "East": 1.25, "Northeast": 1.5, "Central": 1.15}

_CREATE_DAY = """
CREATE TABLE {part} (LIKE fact_transactions INCLUDING DEFAULTS INCLUDING CONSTRAINTS)
"""

# One day of facts. Every random draw is a column of `draws`, so the SQL stays readable.
_FILL_DAY = """
WITH draws AS (
    SELECT g,
           random() AS r_channel, random() AS r_city, random() AS r_status,
           random() AS r_time, random() AS r_amount, random() AS r_ts,
           1 + floor(random() * %(customers)s)::int AS customer_key
    FROM generate_series(1, %(rows)s) AS g
),
picked AS (
    SELECT d.*,
           CASE WHEN r_channel < 0.30 THEN 1 WHEN r_channel < 0.50 THEN 2
                WHEN r_channel < 0.88 THEN 3 ELSE 4 END AS channel_key,
           (%(city_pool)s::int[])[1 + floor(r_city * %(city_pool_len)s)::int] AS city_key
    FROM draws AS d
),
shaped AS (
    SELECT p.*,
           ch.fee_percent,
           round((8 + exp(r_amount * 7.2))::numeric, 2) AS amount,
           round((-ln(1 - r_time) * (%(profile_time)s::float8[])[p.channel_key])::numeric, 3) AS processing_time_s,
           CASE WHEN r_status < (%(profile_fail)s::float8[])[p.channel_key]
                                * (%(city_fail)s::float8[])[p.city_key]
                THEN 'FAILED' ELSE 'SUCCESS' END AS status
    FROM picked AS p
    JOIN dim_channel AS ch ON ch.channel_key = p.channel_key
)
INSERT INTO {part} (date_key, transaction_id, customer_key, channel_key, city_key, transaction_ts,
                    amount, status, processing_time_s, processing_delay_bucket, fee_percent, revenue,
                    file_date)
SELECT %(date_key)s,
       'T' || %(date_key)s || '-' || lpad(g::text, 7, '0'),
       customer_key, channel_key, city_key,
       %(day_start)s::timestamptz + r_ts * interval '86399 seconds',
       amount, status, processing_time_s,
       CASE WHEN processing_time_s < 2.0 THEN 'fast' WHEN processing_time_s < 5.0 THEN 'medium' ELSE 'slow' END,
       fee_percent,
       round(amount * fee_percent / 100, 2),
       %(day_start)s::date
FROM shaped
"""

_ATTACH_DAY = """
ALTER TABLE fact_transactions ATTACH PARTITION {part} FOR VALUES FROM (%(date_key)s) TO (%(next_key)s)
"""

_DIM_DATE = """
INSERT INTO dim_date (date_key, full_date, day, month, quarter, year, day_of_week, day_name, weekday_flag)
SELECT to_char(d, 'YYYYMMDD')::int, d::date, extract(day FROM d), extract(month FROM d),
       extract(quarter FROM d), extract(year FROM d), extract(isodow FROM d), trim(to_char(d, 'Day')),
       CASE WHEN extract(isodow FROM d) < 6 THEN 1 ELSE 0 END
FROM generate_series(%(first)s::date, %(last)s::date, interval '1 day') AS d
ON CONFLICT (date_key) DO NOTHING
"""

_CUSTOMERS = """
INSERT INTO dim_customer (customer_key, customer_id, customer_name, segment, signup_date)
SELECT g, 'C' || lpad(g::text, 7, '0'), 'Customer ' || g,
       (%(segments)s::text[])[1 + (g * 7919) %% %(segment_count)s],
       date '2020-01-01' + (g %% 1000)
FROM generate_series(1, %(customers)s) AS g
"""

_AUDIT = """
INSERT INTO load_audit (run_date, status, source, rows_received, rows_loaded, rows_quarantined,
                        duplicates_dropped, flow_run_id, started_at, finished_at, loaded_at, message)
VALUES (%(run_date)s, 'loaded', 'synthetic', %(rows)s, %(rows)s, 0, 0, %(run_id)s,
        %(at)s, %(at)s, %(at)s, NULL)
ON CONFLICT (run_date) DO UPDATE SET loaded_at = EXCLUDED.loaded_at, finished_at = EXCLUDED.finished_at
"""

_DQ = """
INSERT INTO dq_results (run_date, suite, expectation, severity, success, observed_value,
                        unexpected_count, element_count, run_id, validated_at)
VALUES (%(run_date)s, %(suite)s, %(expectation)s, %(severity)s, %(success)s, %(observed)s,
        %(unexpected)s, %(elements)s, %(run_id)s, %(at)s)
ON CONFLICT DO NOTHING
"""

_QUARANTINE = """
INSERT INTO quarantine_rows (run_date, source_file, source_row, reject_reason, transaction_id, raw_record)
VALUES (%(run_date)s, %(source_file)s, %(source_row)s, %(reason)s, %(transaction_id)s, %(raw)s::jsonb)
"""

_EXPECTATIONS = {
    "raw": [
        ("expect_table_columns_to_match_set", "critical"),
        ("expect_column_values_to_not_be_null:transaction_id", "critical"),
        ("expect_column_values_to_be_in_set:channel", "warning"),
        ("expect_column_values_to_match_regex:transaction_ts", "warning"),
    ],
    "processed": [
        ("expect_column_values_to_be_unique:transaction_id", "critical"),
        ("expect_column_values_to_be_between:amount", "critical"),
        ("expect_column_values_to_be_in_set:status", "critical"),
        ("expect_column_values_to_be_between:processing_time_s", "warning"),
    ],
    "warehouse": [
        ("expect_table_row_count_to_equal:fact_vs_processed", "critical"),
        ("expect_column_sum_to_equal:revenue_rollup_vs_fact", "critical"),
    ],
}
_REASONS = ("amount_not_positive", "unknown_channel", "unparseable_timestamp", "missing_customer_id")


def _day_rows(facts: int, days: int, rng: random.Random) -> list[int]:
    """Rows per day summing exactly to `facts`: weekends busier, a slow yearly swell, noise."""
    weights = []
    for i in range(days):
        weekday = (i + 2) % 7  # arbitrary phase
        w = (1.18 if weekday >= 5 else 1.0) * (1 + 0.15 * math.sin(2 * math.pi * i / 365)) * rng.uniform(0.92, 1.08)
        weights.append(w)
    total = sum(weights)
    counts = [int(facts * w / total) for w in weights]
    for i in range(facts - sum(counts)):
        counts[i % days] += 1
    return counts


def build_warehouse(
    url: str,
    *,
    facts: int,
    days: int = 730,
    last_day: date = date(2024, 12, 31),
    customers: int | None = None,
    seed: int = 7,
    with_quality: bool = True,
    progress: bool = False,
) -> dict[str, Any]:
    """Fill a migrated, empty warehouse at `url` with `facts` synthetic facts over `days` days
    ending `last_day`, their rollups (the load step's SQL, day by day), load_audit rows and (with
    `with_quality`) some quality history and quarantined rows. Returns what was built."""
    rng = random.Random(seed)
    engine = make_engine(url)
    apply_migrations(engine)
    first_day = last_day - timedelta(days=days - 1)
    customers = customers or max(2_000, min(50_000, facts // 200))
    counts = _day_rows(facts, days, rng)
    city_weights = [(name, state, w) for name, state, w in CITIES]
    began = time.perf_counter()
    with engine.begin() as conn:
        conn.exec_driver_sql(f"SELECT setseed({(seed % 1000) / 1000.0})")
        conn.exec_driver_sql(_DIM_DATE, {"first": first_day, "last": last_day})
        for name, state, _w in city_weights:
            conn.exec_driver_sql(
                "INSERT INTO dim_city (city_name, state, region) VALUES (%(c)s, %(s)s, %(r)s) ON CONFLICT DO NOTHING",
                {"c": name, "s": state, "r": region_of(state)},
            )
        conn.exec_driver_sql(
            _CUSTOMERS, {"segments": list(SEGMENTS), "segment_count": len(SEGMENTS), "customers": customers}
        )
        conn.exec_driver_sql(
            "SELECT setval(pg_get_serial_sequence('dim_customer', 'customer_key'), %(n)s)", {"n": customers}
        )
        city_rows = conn.exec_driver_sql(
            "SELECT city_key, city_name, state, region FROM dim_city ORDER BY city_key"
        ).all()
    weight_of = {(n, s): w for n, s, w in city_weights}
    pool: list[int] = []
    max_key = max(r[0] for r in city_rows)
    city_fail = [1.0] * max_key
    for key, name, state, region in city_rows:
        pool += [key] * max(1, round(weight_of.get((name, state), 1.0) * 4))
        city_fail[key - 1] = _REGION_FAILURE_FACTOR.get(region, 1.0)
    profile_fail = [_CHANNEL_PROFILE[k][0] for k in sorted(_CHANNEL_PROFILE)]
    profile_time = [_CHANNEL_PROFILE[k][1] for k in sorted(_CHANNEL_PROFILE)]
    loaded_base = datetime.combine(last_day + timedelta(days=1), datetime.min.time(), tzinfo=UTC)

    for i in range(days):
        day = first_day + timedelta(days=i)
        key, next_key = date_key(day), date_key(day + timedelta(days=1))
        part = f"fact_transactions_d{key}"
        with engine.begin() as conn:
            conn.exec_driver_sql(_CREATE_DAY.format(part=part))
            conn.exec_driver_sql(
                _FILL_DAY.format(part=part),
                {
                    "rows": counts[i],
                    "customers": customers,
                    "date_key": key,
                    "day_start": datetime.combine(day, datetime.min.time(), tzinfo=UTC),
                    "city_pool": pool,
                    "city_pool_len": len(pool),
                    "city_fail": city_fail,
                    "profile_fail": profile_fail,
                    "profile_time": profile_time,
                },
            )
            conn.exec_driver_sql(f"ALTER TABLE {part} ADD PRIMARY KEY (date_key, transaction_id)")
            conn.exec_driver_sql(
                f"ALTER TABLE {part} ADD CONSTRAINT {part}_range CHECK (date_key >= {key} AND date_key < {next_key})"
            )
            conn.exec_driver_sql(_ATTACH_DAY.format(part=part), {"date_key": key, "next_key": next_key})
            rebuild_rollups(conn.connection.dbapi_connection.cursor(), [key])  # the load's own definition
            at = loaded_base - timedelta(days=days - 1 - i) + timedelta(hours=2, minutes=rng.randint(0, 40))
            conn.exec_driver_sql(_AUDIT, {"run_date": day, "rows": counts[i], "run_id": f"bench-{key}", "at": at})
            if with_quality and i >= days - 90:
                _quality_day(conn, day, counts[i], at, rng)
        if progress and (i + 1) % 50 == 0:
            print(f"  built {i + 1}/{days} days ({time.perf_counter() - began:.0f} s)", file=sys.stderr)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in ("agg_daily_city", "agg_daily_region", "dim_city", "dim_channel", "load_audit"):
            conn.exec_driver_sql(f"VACUUM ANALYZE {table}")
        conn.exec_driver_sql("ANALYZE fact_transactions")
    engine.dispose()
    return {
        "facts": facts,
        "days": days,
        "first_day": first_day,
        "last_day": last_day,
        "customers": customers,
        "build_s": round(time.perf_counter() - began, 1),
    }


def _quality_day(conn: sa.Connection, day: date, rows: int, at: datetime, rng: random.Random) -> None:
    run_id = f"bench-{date_key(day)}"
    quarantined = rng.choice([0, 0, 0, 1, 2, 3, 5, 8])
    for suite, expectations in _EXPECTATIONS.items():
        for expectation, severity in expectations:
            fails = severity == "warning" and rng.random() < 0.12
            unexpected = rng.randint(1, 40) if fails else 0
            conn.exec_driver_sql(
                _DQ,
                {
                    "run_date": day,
                    "suite": suite,
                    "expectation": expectation,
                    "severity": severity,
                    "success": not fails,
                    "observed": json.dumps({"unexpected_count": unexpected}),
                    "unexpected": unexpected,
                    "elements": rows,
                    "run_id": run_id,
                    "at": at,
                },
            )
    for n in range(quarantined):
        reason = rng.choice(_REASONS)
        tid = f"T{date_key(day)}-Q{n:03d}"
        raw = {
            "transaction_id": tid,
            "amount": "-5.00" if reason == "amount_not_positive" else "120.00",
            "channel": "Cheque" if reason == "unknown_channel" else "UPI",
        }
        conn.exec_driver_sql(
            _QUARANTINE,
            {
                "run_date": day,
                "source_file": f"transactions_{day:%Y%m%d}.csv",
                "source_row": 10 + n * 37,
                "reason": reason,
                "transaction_id": tid,
                "raw": json.dumps(raw),
            },
        )


# --- the naive dashboard: the same view, aggregated from fact_transactions ----------------------

_NAIVE_CELLS = """
    SELECT f.date_key, f.status, f.revenue, f.processing_time_s,
           ch.channel_name::text AS channel, ci.region::text AS region, ci.state::text AS state,
           ci.city_name::text AS city, cu.segment::text AS segment
    FROM fact_transactions AS f
    JOIN dim_channel AS ch ON ch.channel_key = f.channel_key
    JOIN dim_city AS ci ON ci.city_key = f.city_key
    JOIN dim_customer AS cu ON cu.customer_key = f.customer_key
    WHERE f.date_key BETWEEN %(start_key)s AND %(end_key)s
      AND (%(region)s::text IS NULL OR ci.region = %(region)s::text)
      AND (%(state)s::text IS NULL OR ci.state = %(state)s::text)
      AND (%(city)s::text IS NULL OR ci.city_name = %(city)s::text)
      AND (%(channel)s::text IS NULL OR ch.channel_name = %(channel)s::text)
      AND (%(segment)s::text IS NULL OR cu.segment = %(segment)s::text)
"""
_NAIVE_ITEM = """CASE %(dim)s WHEN 'channel' THEN channel WHEN 'region' THEN region WHEN 'state' THEN state
                  WHEN 'city' THEN city WHEN 'segment' THEN segment ELSE 'All' END"""
_NAIVE_SUMS = """count(*) AS txn_count,
       count(*) FILTER (WHERE status = 'FAILED') AS failed_count,
       coalesce(sum(revenue) FILTER (WHERE status = 'SUCCESS'), 0)::float8 AS success_revenue,
       sum(processing_time_s)::float8 AS processing_time_s_sum"""
NAIVE_DAILY = f"""WITH cells AS ({_NAIVE_CELLS})
SELECT date_key, {_NAIVE_ITEM} AS item, {_NAIVE_SUMS}
FROM cells GROUP BY 1, 2 ORDER BY 1, 2"""
NAIVE_COMPARE = f"""WITH cells AS ({_NAIVE_CELLS})
SELECT {_NAIVE_ITEM} AS item, {_NAIVE_SUMS}
FROM cells GROUP BY 1 ORDER BY txn_count DESC, item"""


class NaiveQueries(DashboardQueries):
    """The dashboard's view computed from the fact table instead of the rollups."""

    def _naive(self, text: str, f: Filters, dim: str | None, start: date, end: date) -> list[tuple[Any, ...]]:
        params = {
            "dim": dim or "total",
            "start_key": date_key(start),
            "end_key": date_key(end),
            "region": f.region,
            "state": f.state,
            "city": f.city,
            "channel": f.channel,
            "segment": f.segment,
        }
        with self.engine.connect() as conn:
            return [tuple(r) for r in conn.exec_driver_sql(text, params)]

    def daily_rows(self, f, dim, fetch_start, geo, names):  # type: ignore[override]
        return self._naive(NAIVE_DAILY, f, dim, fetch_start, f.end)

    def comparison_rows(self, f, dim, geo, names):  # type: ignore[override]
        return self._naive(NAIVE_COMPARE, f, dim, f.start, f.end)


# --- the scenario ---------------------------------------------------------------------------------


def scenarios(first: date, last: date) -> list[tuple[str, Filters]]:
    """A user's session: a default view, then filter changes one at a time."""
    d30 = Filters(last - timedelta(days=29), last)
    d90 = Filters(last - timedelta(days=89), last)
    year = Filters(last - timedelta(days=364), last)
    everything = Filters(first, last)
    return [
        ("default: last 30 days", d30),
        ("channel = UPI", replace(d30, channel="UPI")),
        ("region = South", replace(d30, region="South")),
        ("+ state = Karnataka", replace(d30, region="South", state="Karnataka")),
        ("+ city = Bengaluru", replace(d30, region="South", state="Karnataka", city="Bengaluru")),
        ("city + channel", replace(d30, region="South", state="Karnataka", city="Bengaluru", channel="UPI")),
        ("segment = SME", replace(d30, segment="SME")),
        ("last 90 days", d90),
        ("90 days, West, Net Banking", replace(d90, region="West", channel="Net Banking")),
        ("last 365 days", year),
        ("365 days, state = Maharashtra", replace(year, state="Maharashtra")),
        ("365 days, Premium, Credit Card", replace(year, segment="Premium", channel="Credit Card")),
        ("all time (2 years)", everything),
        ("all time, region = North", replace(everything, region="North")),
        ("all time, state = Tamil Nadu", replace(everything, state="Tamil Nadu")),
        ("all time, city = Mumbai, UPI", replace(everything, state="Maharashtra", city="Mumbai", channel="UPI")),
        (
            "no rows: Shimla + Corporate",
            replace(d30, state="Himachal Pradesh", city="Shimla", segment="Corporate", channel="Net Banking"),
        ),
    ]


def _time(queries: DashboardQueries, f: Filters) -> tuple[float, Any]:
    began = time.perf_counter()
    view = queries.compute_view(f)
    return (time.perf_counter() - began) * 1000, view


def _time_handler(dashboard: Any, f: Filters) -> float:
    """The whole event, rendered afresh (the shared render cache emptied first): filters resolved,
    view, five figures serialised, KPI cards, table and CSV."""
    values = [v or "All" for v in (f.region, f.state, f.city, f.channel, f.segment)]
    dashboard.rendered.clear()
    began = time.perf_counter()
    dashboard.on_filters("Custom", f"{f.start:%Y-%m-%d}", f"{f.end:%Y-%m-%d}", *values)
    return (time.perf_counter() - began) * 1000


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def _same(a: Any, b: Any) -> bool:
    ka, kb = a.kpis.current, b.kpis.current
    return (
        ka.txn_count == kb.txn_count
        and ka.failed_count == kb.failed_count
        and abs(ka.revenue - kb.revenue) < 0.01
        and abs(ka.processing_time_s_sum - kb.processing_time_s_sum) < 0.01
        and a.trend_items == b.trend_items
        and a.comparison["item"].tolist() == b.comparison["item"].tolist()
    )


@contextmanager
def throwaway_database(admin_url: str) -> Iterator[str]:
    name = f"bap_bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def main(
    facts: int = 10_000_000,
    json_path: str | Path | None = None,
    *,
    days: int = 730,
    repeats: int = 5,
    naive_repeats: int = 1,
    admin_url: str | None = None,
    keep_url: str | None = None,
    settings: Any = None,
) -> dict[str, Any]:
    """Build, measure, print a table and return the figures (milliseconds).

    The throwaway database lives on `admin_url`'s server, else on the server of `settings`'
    warehouse (as `bap bench` passes it), else BAP_BENCH_PG_URL / BAP_TEST_PG_URL / localhost.
    `keep_url`: benchmark an existing database built by `build_warehouse` instead (no build)."""
    if admin_url is None and settings is not None:
        from flows.warehouse.connection import resolve_url

        admin_url = make_url(resolve_url(settings)).set(database="postgres").render_as_string(hide_password=False)
    admin_url = (
        admin_url or os.environ.get("BAP_BENCH_PG_URL") or os.environ.get("BAP_TEST_PG_URL") or DEFAULT_ADMIN_URL
    )

    def run(url: str, built: dict[str, Any]) -> dict[str, Any]:
        from ui.app import Dashboard

        engine = make_engine(url)
        rollup, naive = DashboardQueries(engine, ttl_s=0), NaiveQueries(engine, ttl_s=0)
        dashboard = Dashboard(rollup)
        with engine.connect() as conn:
            first, last = conn.exec_driver_sql("SELECT min(full_date), max(full_date) FROM dim_date").one()
            n_facts = conn.exec_driver_sql("SELECT count(*) FROM fact_transactions").scalar()
        plan = scenarios(first, last)
        for _name, f in plan[:3]:  # warm caches and connections
            rollup.compute_view(f)
        rows, all_fast, all_naive, all_handler = [], [], [], []
        for name, f in plan:
            fast = [_time(rollup, f) for _ in range(repeats)]
            all_handler += [_time_handler(dashboard, f) for _ in range(repeats)]
            slow = [_time(naive, f) for _ in range(naive_repeats)]
            if not _same(fast[0][1], slow[0][1]):
                raise AssertionError(f"rollup and fact-table views differ for {name!r}")
            fast_ms = [t for t, _ in fast]
            slow_ms = [t for t, _ in slow]
            all_fast += fast_ms
            all_naive += slow_ms
            rows.append((name, fast[0][1].source, statistics.median(fast_ms), max(fast_ms), statistics.median(slow_ms)))
        engine.dispose()
        result = {
            "facts": n_facts,
            "days": (last - first).days + 1,
            "filter_changes": len(plan),
            "samples": len(all_fast),
            "dashboard_median_ms": round(statistics.median(all_fast), 2),
            "dashboard_p95_ms": round(_pct(all_fast, 0.95), 2),
            "dashboard_max_ms": round(max(all_fast), 2),
            "dashboard_handler_median_ms": round(statistics.median(all_handler), 2),
            "dashboard_handler_p95_ms": round(_pct(all_handler, 0.95), 2),
            "naive_dashboard_median_ms": round(statistics.median(all_naive), 2),
            "naive_dashboard_p95_ms": round(_pct(all_naive, 0.95), 2),
            "build": built,
        }
        result["speedup_at_median"] = round(result["naive_dashboard_median_ms"] / result["dashboard_median_ms"], 1)
        _print_table(rows, result)
        return result

    if keep_url:
        result = run(keep_url, {})
    else:
        with throwaway_database(admin_url) as url:
            print(f"building {facts:,} facts over {days} days ...", file=sys.stderr)
            built = build_warehouse(url, facts=facts, days=days, progress=True)
            built["first_day"], built["last_day"] = str(built["first_day"]), str(built["last_day"])
            result = run(url, built)
    if json_path:
        Path(json_path).parent.mkdir(parents=True, exist_ok=True)
        Path(json_path).write_text(json.dumps(result, indent=2, default=str) + "\n")
    return result


def _print_table(rows: list[tuple[str, str, float, float, float]], result: dict[str, Any]) -> None:
    print(f"\nDashboard filter changes over {result['facts']:,} facts / {result['days']} days (server-side ms)")
    print(f"{'filter change':<34} {'rollup':<17} {'median':>8} {'max':>8} {'naive':>10} {'x':>6}")
    for name, source, med, worst, naive in rows:
        print(f"{name:<34} {source:<17} {med:8.1f} {worst:8.1f} {naive:10.1f} {naive / med:6.0f}")
    print(
        f"\nrollups: median {result['dashboard_median_ms']} ms, p95 {result['dashboard_p95_ms']} ms; "
        f"whole event (figures, cards, CSV too): median {result['dashboard_handler_median_ms']} ms, "
        f"p95 {result['dashboard_handler_p95_ms']} ms; "
        f"naive (fact table): median {result['naive_dashboard_median_ms']} ms; "
        f"{result['speedup_at_median']}x faster at the median"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--facts", type=int, default=10_000_000)
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", dest="json_path", default=None)
    args = parser.parse_args()
    main(args.facts, args.json_path, days=args.days, repeats=args.repeats)

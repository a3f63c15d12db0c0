"""`bap bench`: the speed suite. Every compared figure is compared in the same run, on the same
data and server, as medians of `repeats` runs; ratios are what to quote, not lone times.

Builds its own data in throwaway databases of the configured PostgreSQL (embedded by default)
and a temporary data directory; nothing of the user's warehouse is touched.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy.engine import make_url

from benchmarks.bench_dashboard_load import FIGURES as TEAM_FIGURES
from benchmarks.common import machine, median, throwaway_database
from flows.settings import Settings

TARGETS = {
    "load_vs_copy_indexed": (">=", 0.9, "load rate vs COPY into the indexed fact table (floor 0.6)"),
    "load_new_ids_vs_copy": (">=", 0.8, "first load of a new day (ids all new, full lateness window) vs COPY"),
    "load_late_corrections_vs_copy": (">=", 0.5, "a day with 5% late records and 1% corrections vs COPY"),
    "load_vs_to_sql": (">=", 8.0, "load rate vs pandas.to_sql + upsert"),
    "reload_vs_load": (">=", 1.0, "re-load rate vs first load"),
    "e2e_vs_copy": ("<=", 4.0, "end-to-end time vs raw COPY of the same rows"),
    "validate_vs_transform": ("<=", 1.5, "raw + processed validation time vs transform time"),
    "peak_rss_mb": ("<=", 2048.0, "peak memory of the end-to-end day (MiB)"),
    "dashboard_p95_ms": ("<=", 250.0, "dashboard filter change p95 (ms, server side)"),
    "dashboard_speedup": (">=", 20.0, "naive dashboard median / rollup dashboard median"),
    "backfill_seconds": ("<=", 120.0, "365 days x 500 rows through Prefect (s)"),
    "backfill_vs_one_day": ("<=", 10.0, "backfill of N days x 500 rows vs the same rows as one day (Prefect)"),
    # the dashboard for a team (benchmarks/bench_dashboard_load.py), each against the minimal Gradio app
    "dashboard_users_p95_vs_baseline": ("<=", 1.25, "p95 of a filter change, 50 users, vs the minimal app"),
    "dashboard_changes_vs_baseline": (">=", 0.8, "filter changes per second, 50 users, vs the minimal app"),
    "dashboard_users_errors": ("<=", 0, "errors under the 50-user load (dashboard + minimal app)"),
    "dashboard_first_paint_vs_baseline": ("<=", 1.2, "first paint in Chromium vs the minimal app"),
    "dashboard_start_vs_baseline": ("<=", 1.2, "`bap dashboard` warm start vs the minimal app"),
}
TEAM_RATIOS = {  # ratio -> (dashboard figure, baseline figure), both from the same run
    "dashboard_users_p95_vs_baseline": ("dashboard_users_p95_ms", "baseline_users_p95_ms"),
    "dashboard_changes_vs_baseline": ("dashboard_changes_per_s", "baseline_changes_per_s"),
    "dashboard_first_paint_vs_baseline": ("dashboard_first_paint_ms", "baseline_first_paint_ms"),
    "dashboard_start_vs_baseline": ("dashboard_start_s", "baseline_start_s"),
    "dashboard_server_cpu_vs_baseline": ("dashboard_server_cpu_ms_per_change", "baseline_server_cpu_ms_per_change"),
}


def _url(engine: Any) -> str:
    return make_url(engine.url).render_as_string(hide_password=False)


def _e2e_fresh(settings: Settings, rows: int, data_dir: str) -> float:
    """One end-to-end day on a database of its own (a day already loaded would replace nothing)."""
    from benchmarks import bench_e2e

    with throwaway_database(settings) as (engine, _):
        return float(bench_e2e.run_once(rows, data_dir, _url(engine))["e2e_seconds"])


def run_suite(
    settings: Settings,
    rows: int = 1_000_000,
    facts: int = 10_000_000,
    repeats: int = 3,
    backfill_days: int = 365,
    scale_curve: bool = False,
    json_path: str | None = None,
    console: Console | None = None,
    team: bool = True,
    team_users: int = 50,
    team_seconds: float = 60.0,
) -> dict[str, Any]:
    from benchmarks import bench_backfill, bench_e2e, bench_load

    console = console or Console()
    figures: dict[str, Any] = {"machine": machine(), "rows": rows, "facts": facts, "repeats": repeats}
    steps_total = 3 + (1 if backfill_days else 0) + (1 if facts else 0) + (1 if scale_curve else 0) + int(team)
    with Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=console) as progress:
        overall = progress.add_task("benchmarks", total=steps_total)

        def tick(what: str) -> None:
            progress.update(overall, description=f"benchmarks: {what}")

        with throwaway_database(settings) as (engine, server):
            figures["server"] = server
            tick(f"load of {rows:,} rows")
            load = bench_load.run(engine, rows, repeats=repeats, tick=lambda s: tick(f"load: {s}"))
            figures.update({k: v for k, v in load.items() if k != "raw_seconds"})
            progress.advance(overall)

            tick("end-to-end day")
            runs = []
            with tempfile.TemporaryDirectory(prefix="bap-bench-") as tmp:
                for i in range(repeats):  # each run on a database of its own: a loaded day would be "unchanged"
                    tick(f"end-to-end day {i + 1}/{repeats}")
                    with throwaway_database(settings) as (day_engine, _):
                        runs.append(bench_e2e.run_once(rows, f"{tmp}/e2e-{i}", _url(day_engine)))
            for key in (
                "e2e_seconds",
                "ingest_seconds",
                "transform_seconds",
                "validate_seconds",
                "load_seconds",
                "gx_first_use_seconds",
            ):
                figures[key if key != "load_seconds" else "e2e_load_seconds"] = median([r[key] for r in runs])
            figures["peak_rss_mb"] = max(r["peak_rss_mb"] for r in runs)
            figures["e2e_vs_copy"] = figures["e2e_seconds"] / figures["copy_seconds"]
            figures["validate_vs_transform"] = figures["validate_seconds"] / figures["transform_seconds"]
            progress.advance(overall)

            if scale_curve:
                curve = []
                for n in (10_000, 100_000, 1_000_000):
                    tick(f"scale curve: {n:,} rows")
                    point = bench_load.run(engine, n, repeats=repeats, to_sql_rows=min(n, 100_000))
                    with tempfile.TemporaryDirectory(prefix="bap-bench-") as tmp:
                        e2e = median([_e2e_fresh(settings, n, f"{tmp}/{i}") for i in range(repeats)])
                    curve.append(
                        {
                            "rows": n,
                            "load_rows_per_s": point["load_rows_per_s"],
                            "copy_indexed_rows_per_s": point["copy_indexed_rows_per_s"],
                            "load_seconds": point["load_seconds"],
                            "e2e_seconds": e2e,
                            "copy_seconds": point["copy_seconds"],
                        }
                    )
                figures["scale_curve"] = curve
                write_scale_plot(curve, Path("docs/scale-curve.svg"))
                progress.advance(overall)
        progress.advance(overall)

        if backfill_days:
            tick(f"backfill of {backfill_days} days")
            with (
                throwaway_database(settings) as (plain, _),
                throwaway_database(settings) as (orchestrated, _),
                throwaway_database(settings) as (one_day, _),
            ):
                urls = (_url(plain), _url(orchestrated), _url(one_day))
                figures.update(bench_backfill.run(settings, urls, days=backfill_days))
            progress.advance(overall)

        if facts:
            tick(f"dashboard over {facts:,} facts")
            try:
                from benchmarks import bench_dashboard
            except ImportError:
                figures["dashboard"] = "not available"
            else:
                dash = bench_dashboard.main(facts=facts, settings=settings)
                figures.update({k: v for k, v in dash.items() if not isinstance(v, (list, dict))})
                if dash.get("dashboard_median_ms"):
                    figures["dashboard_speedup"] = dash["naive_dashboard_median_ms"] / dash["dashboard_median_ms"]
            progress.advance(overall)

        if team:
            tick(f"dashboard for a team: {team_users} users, first paint, start (vs the minimal Gradio app)")
            figures.update(dashboard_team(settings, users=team_users, seconds=team_seconds))
            progress.advance(overall)

    print_figures(figures, console)
    if json_path:
        Path(json_path).write_text(json.dumps(figures, indent=2, default=str))
        console.print(f"figures written to {json_path}")
    return figures


def dashboard_team(settings: Settings, *, users: int, seconds: float) -> dict[str, Any]:
    """The dashboard under `users` concurrent users, its first paint and start, on a demo-shaped
    warehouse (90 days, 2M facts), each next to the minimal Gradio app measured in the same run."""
    from benchmarks import bench_dashboard_load

    team = bench_dashboard_load.main(facts=2_000_000, days=90, users=users, seconds=seconds, settings=settings)
    out: dict[str, Any] = {k: team[k] for k in bench_dashboard_load.FIGURES if k in team}
    out["dashboard_users_errors"] = team["dashboard_errors"] + team["baseline_errors"]
    for ratio, (ours, floor) in TEAM_RATIOS.items():
        if out.get(ours) and out.get(floor):
            out[ratio] = out[ours] / out[floor]
    return out


def write_scale_plot(curve: list[dict[str, Any]], path: Path) -> None:
    from benchmarks.plot import line_chart_svg

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        line_chart_svg(
            "Load rate by day size (rows/s, higher is better)",
            [p["rows"] for p in curve],
            {
                "bap load (swap + rollups)": [p["load_rows_per_s"] for p in curve],
                "bare COPY into indexed table": [p["copy_indexed_rows_per_s"] for p in curve],
            },
            "rows per day",
            "rows/s",
        )
    )


def print_figures(figures: dict[str, Any], console: Console) -> None:
    table = Table(title=f"bap bench - {figures.get('server', '')}, {figures['machine']['cpu_count']} cores")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for key in (
        "load_rows_per_s",
        "reload_rows_per_s",
        "copy_indexed_rows_per_s",
        "copy_unindexed_rows_per_s",
        "to_sql_rows_per_s",
        "copy_seconds",
        "e2e_seconds",
        "transform_seconds",
        "validate_seconds",
        "peak_rss_mb",
        "backfill_seconds",
        "backfill_orchestration_seconds",
        "backfill_one_day_seconds",
        "backfill_vs_one_day",
        "dashboard_median_ms",
        "dashboard_p95_ms",
        "naive_dashboard_median_ms",
        *TEAM_FIGURES,
    ):
        if key in figures:
            value = figures[key]
            table.add_row(key, f"{value:,.0f}" if value > 1000 else f"{value:,.3f}")
    console.print(table)
    verdicts = Table(title="targets (measured in this run)")
    for column in ("target", "measured", "goal", "met"):
        verdicts.add_column(column)
    for key, (op, goal, label) in TARGETS.items():
        if key not in figures or not isinstance(figures[key], (int, float)):
            continue
        value = figures[key]
        met = value >= goal if op == ">=" else value <= goal
        verdicts.add_row(label, f"{value:,.2f}", f"{op} {goal}", "yes" if met else "NO")
    console.print(verdicts)

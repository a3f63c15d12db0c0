"""The `bap` command line.

Expected failures (a bad file, an unreachable warehouse, a failed quality gate) end with one
line on stderr and a non-zero exit code; programming errors keep their traceback.
"""

from __future__ import annotations

import functools
import gc
import os
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any, TypeVar, overload

import click
import typer

from flows.errors import BapError
from flows.settings import Settings, get_settings

if TYPE_CHECKING:
    from prefect import State

T = TypeVar("T")

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="batch-analytics-platform: daily transactions -> warehouse -> dashboard.",
)
warehouse_app = typer.Typer(no_args_is_help=True, help="The PostgreSQL warehouse.")
app.add_typer(warehouse_app, name="warehouse")
server_app = typer.Typer(no_args_is_help=True, help="The local Prefect server bap starts on demand.")
app.add_typer(server_app, name="server")


@overload
def _day(value: str, name: str) -> date: ...
@overload
def _day(value: str | None, name: str) -> date | None: ...
def _day(value: str | None, name: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise BapError(f"{name} must be a date as YYYY-MM-DD, got {value!r}") from None


def _prepare(settings: Settings) -> None:
    """Logging to logs/ and to Prefect; a Prefect API to report to (configured, or local on demand)."""
    from flows.logs import configure_logging, route_to_prefect

    route_to_prefect()
    # Prefect's run log goes to stdout: stderr carries only the one-line error of a failed command.
    os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_STREAM", "ext://sys.stdout")
    configure_logging(settings)
    if settings.prefect_api_url:
        os.environ["PREFECT_API_URL"] = settings.prefect_api_url
    elif settings.prefect_mode == "server":
        from flows.orchestration.local_stack import ensure_local_server, local_api_url

        ensure_local_server(settings)
        os.environ["PREFECT_API_URL"] = local_api_url(settings)


def _value(result: T | State[Any]) -> T:
    """What a flow called in this process returned. A flow that ends Failed raises its error here
    (its one line: see flows.errors.expected_failure); a State only comes back as a result when
    the flow itself returned one, and then its value is the result."""
    from prefect import State

    if isinstance(result, State):
        value: T = result.result()
        return value
    return result


def _echo_outcome(outcome: dict[str, Any]) -> None:
    reasons = outcome.get("quarantine_reasons") or {}
    detail = f" ({', '.join(f'{k}: {v}' for k, v in reasons.items())})" if reasons else ""
    typer.echo(
        f"{outcome['run_date']}: {outcome['status']} - {outcome['rows_received']} received, "
        f"{outcome['rows_loaded']} loaded, {outcome['rows_quarantined']} quarantined{detail}, "
        f"{outcome['duplicates_dropped']} duplicates dropped"
    )


@app.command()
def run(
    run_date: Annotated[
        str | None, typer.Option("--date", help="Day to run, YYYY-MM-DD (default: yesterday, UTC).")
    ] = None,
    input_path: Annotated[
        str | None, typer.Option("--input", help="A landed CSV file or a folder of CSV files (path or fsspec URL).")
    ] = None,
    scenario: Annotated[str | None, typer.Option(help="Generate the day with a named defect scenario.")] = None,
    regenerate: Annotated[
        bool, typer.Option(help="Generate the synthetic day again even if its raw partition exists.")
    ] = False,
) -> None:
    """One day end to end: ingest -> transform -> load."""
    settings = get_settings()
    day = _day(run_date, "--date")
    if scenario is not None:
        from flows.generate import SCENARIOS

        if scenario not in SCENARIOS:
            raise BapError(f"unknown scenario {scenario!r}; choose one of {', '.join(SCENARIOS)}")
    _prepare(settings)
    from flows.pipeline import daily_pipeline

    _echo_outcome(_value(daily_pipeline(run_date=day, input_path=input_path, scenario=scenario, regenerate=regenerate)))


@app.command()
def backfill(
    start: Annotated[str, typer.Option(help="First day, YYYY-MM-DD.")],
    end: Annotated[str, typer.Option(help="Last day, YYYY-MM-DD (included).")],
    concurrency: Annotated[
        int | None, typer.Option(min=1, help="Days processed at once (default BAP_BACKFILL_CONCURRENCY).")
    ] = None,
    regenerate: Annotated[
        bool, typer.Option(help="Generate synthetic days again even if their raw partitions exist.")
    ] = False,
) -> None:
    """Every day in a range, with bounded concurrency."""
    settings = get_settings()
    first, last = _day(start, "--start"), _day(end, "--end")
    if last < first:
        raise BapError(f"--end {last} is before --start {first}")
    _prepare(settings)
    from flows.pipeline import backfill_pipeline

    t0 = time.perf_counter()
    outcomes = _value(backfill_pipeline(start=first, end=last, concurrency=concurrency, regenerate=regenerate))
    rows = sum(o["rows_loaded"] for o in outcomes)
    typer.echo(f"backfill {first}..{last}: {len(outcomes)} days loaded, {rows} rows, {time.perf_counter() - t0:.1f} s")


@app.command()
def status(
    start: Annotated[str | None, typer.Option(help="First day (default: 30 days before --end).")] = None,
    end: Annotated[str | None, typer.Option(help="Last day (default: yesterday, UTC).")] = None,
) -> None:
    """Per file day: rows received, loaded (into its own day, into earlier days, corrections),
    superseded by a later file day, quarantined (by reason), duplicates; when, and which later day changed it."""
    from rich.console import Console
    from rich.table import Table

    from flows import steps

    settings = get_settings()
    last = _day(end, "--end") or steps.yesterday_utc()
    first = _day(start, "--start") or last - timedelta(days=29)
    rows = steps.status_rows(settings, first, last)
    table = Table(title=f"Load status {first} .. {last}")
    columns = ("day", "status", "received", "loaded", "into earlier days", "corrections", "superseded")
    for column in (*columns, "quarantined", "by reason", "duplicates", "changed by", "loaded at (UTC)", "flow run"):
        table.add_column(column)
    for r in rows:
        reasons = ", ".join(f"{k}: {v}" for k, v in (r["quarantine_reasons"] or {}).items())
        counts = ("rows_received", "rows_loaded", "rows_loaded_earlier", "rows_corrections", "rows_superseded")
        table.add_row(
            str(r["run_date"]),
            r["status"],
            *("" if r[c] is None else str(r[c]) for c in counts),
            "" if r["rows_quarantined"] is None else str(r["rows_quarantined"]),
            reasons,
            "" if r["duplicates_dropped"] is None else str(r["duplicates_dropped"]),
            f"file of {r['changed_by']}" if r["changed_by"] else "",
            r["loaded_at"].strftime("%Y-%m-%d %H:%M:%S") if r["loaded_at"] else "",
            (r["flow_run_id"] or "")[:36],
        )
    Console(width=240).print(table)
    missing = (last - first).days + 1 - len(rows)
    if missing:
        typer.echo(f"{missing} day(s) in the range have never been run.")


@warehouse_app.command("init")
def warehouse_init() -> None:
    """Create or migrate the warehouse schema."""
    from flows.warehouse.connection import check_connection, make_engine, redact, resolve_url
    from flows.warehouse.migrate import apply_migrations

    url = resolve_url(get_settings())
    engine = make_engine(url)
    check_connection(engine)
    applied = apply_migrations(engine)
    typer.echo(f"warehouse {redact(url)}: " + (f"applied {', '.join(applied)}" if applied else "schema up to date"))


@warehouse_app.command("url")
def warehouse_url() -> None:
    """Print the warehouse URL (password hidden); starts the embedded warehouse if it is the default."""
    from flows.warehouse.connection import redact, resolve_url

    typer.echo(redact(resolve_url(get_settings())))


@app.command()
def demo(
    days: Annotated[int, typer.Option(min=1, help="How many days to backfill, ending yesterday (UTC).")] = 90,
    serve_stack: Annotated[
        bool, typer.Option("--up/--no-up", help="Then bring the stack up (Prefect UI, worker, dashboard) until Ctrl-C.")
    ] = True,
) -> None:
    """The main job: backfill the last N days into the warehouse, say where it is, then serve the dashboard."""
    from flows import steps
    from flows.orchestration.local_stack import local_server
    from flows.warehouse.connection import redact, resolve_url

    settings = get_settings()
    last = steps.yesterday_utc()
    first = last - timedelta(days=days - 1)
    with local_server(settings) as api_url:  # a Prefect server the demo starts, it stops, on Ctrl-C and SIGTERM too
        _prepare(settings)
        from flows.demo import run_demo

        typer.echo(run_demo(first, last).where_to_look(f"http://{settings.dashboard_host}:{settings.dashboard_port}"))
        lake = steps.lake_of(settings)
        typer.echo(f"data lake:  {lake.url(lake.base)} (raw/, processed/, quarantine/ partitioned YYYY/MM/DD)")
        typer.echo(f"warehouse:  {redact(resolve_url(settings))}")
        typer.echo(f"logs:       {os.path.abspath(settings.log_dir)}")
        if serve_stack:
            from flows.orchestration.local_stack import up as stack_up

            stack_up(settings, api_url, dashboard=functools.partial(_served_dashboard, settings))


@app.command()
def docs() -> None:
    """Build the Great Expectations Data Docs and say where to browse them (the dashboard serves them)."""
    from flows import quality

    settings = get_settings()
    index = quality.build_data_docs(settings)
    host = "127.0.0.1" if settings.dashboard_host in ("0.0.0.0", "::") else settings.dashboard_host
    typer.echo(f"Data Docs built: {index}")
    typer.echo(
        f"Browse them at http://{host}:{settings.dashboard_port}/data-docs/ while `bap dashboard` or `bap up` runs."
    )


@app.command()
def dashboard(
    host: Annotated[str | None, typer.Option(help="Address to bind (default BAP_DASHBOARD_HOST, 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default BAP_DASHBOARD_PORT, 7860).")] = None,
) -> None:
    """The analytics dashboard over the warehouse, with the Data Docs under /data-docs/."""
    from flows.logs import configure_logging
    from ui.app import serve

    settings = get_settings()
    configure_logging(settings)
    try:
        serve(settings, host=host, port=port)
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM: uvicorn has shut down, the warehouse is released at exit
        typer.echo("Dashboard stopped.")


@app.command()
def up(
    dashboard: Annotated[bool, typer.Option(help="Also serve the dashboard and its Data Docs.")] = True,
    backfill_days: Annotated[
        int, typer.Option(min=0, help="Start a backfill of the last N days through the backfill deployment.")
    ] = 0,
) -> None:
    """The whole stack locally: Prefect server + UI, work pool, deployments, a worker, the dashboard. Ctrl-C stops it all."""
    from flows.dates import yesterday_utc
    from flows.logs import configure_logging
    from flows.orchestration.local_stack import local_server
    from flows.orchestration.local_stack import up as stack_up

    settings = get_settings()
    configure_logging(settings)
    served = functools.partial(_served_dashboard, settings) if dashboard else None
    last = yesterday_utc()
    backfill = (last - timedelta(days=backfill_days - 1), last) if backfill_days else None
    with local_server(settings, echo=typer.echo) as api_url:
        stack_up(settings, api_url, dashboard=served, backfill=backfill)


@contextmanager
def _served_dashboard(settings: Settings) -> Iterator[str]:
    """The dashboard of `bap up`, served in-process until the stack stops; yields its URL."""
    from ui.app import serve

    with serve(settings, block=False) as handle:
        yield handle.url
    typer.echo("Stopped the dashboard.")


@app.command()
def gaps(
    start: Annotated[str, typer.Option(help="First day, YYYY-MM-DD.")],
    end: Annotated[str, typer.Option(help="Last day, YYYY-MM-DD (included).")],
    fill: Annotated[bool, typer.Option(help="Backfill exactly the days found.")] = False,
    concurrency: Annotated[int | None, typer.Option(min=1, help="Days processed at once when filling.")] = None,
) -> None:
    """Days in a range that are missing, failed or blocked in the warehouse; --fill backfills exactly those."""
    from flows import steps
    from flows.orchestration.gaps import gap_report

    settings = get_settings()
    first, last = _day(start, "--start"), _day(end, "--end")
    report = gap_report(steps.engine_of(settings), first, last)
    if not report:
        typer.echo(f"no gaps: every day {first}..{last} is loaded")
        return
    for gap in report:
        note = " (its last good load is still in the warehouse)" if gap.has_rows else ""
        typer.echo(f"{gap.run_date}  {gap.status:<8} {gap.message or ''}{note}")
    typer.echo(f"{len(report)} day(s) to fill")
    if fill:
        _prepare(settings)
        from flows.pipeline import backfill_pipeline

        days = [gap.run_date for gap in report]
        outcomes = _value(backfill_pipeline(start=days[0], end=days[-1], days=days, concurrency=concurrency))
        typer.echo(f"filled {sum(1 for o in outcomes if o['status'] == 'loaded')} day(s)")


@app.command()
def freshness() -> None:
    """Days of the look-back window not loaded by their deadline (alerts when any)."""
    from flows import steps
    from flows.orchestration.alerts import check_freshness

    settings = get_settings()
    late = check_freshness(steps.engine_of(settings), settings)
    if late:
        typer.echo("late: " + ", ".join(str(d) for d in late))
        raise typer.Exit(1)
    typer.echo(
        f"fresh: every day of the last {settings.freshness_lookback_days} is loaded within {settings.freshness_sla_hours} h"
    )


@app.command("bench-scale")
def bench_scale(
    days: Annotated[int, typer.Option(min=1, help="Days of the backfill.")] = 100,
    rows: Annotated[int, typer.Option(min=1, help="Rows a day.")] = 1_000_000,
    concurrency: Annotated[int | None, typer.Option(min=1, help="Days at once (default: the product's).")] = None,
    dashboard: Annotated[bool, typer.Option(help="Also measure the dashboard under load on the result.")] = True,
    keep: Annotated[bool, typer.Option(help="Keep the throwaway data and state folder.")] = False,
    json_file: Annotated[str | None, typer.Option("--json", help="Write the figures to this JSON file.")] = None,
) -> None:
    """The scale run: `bap backfill` of DAYS x ROWS with the default settings in a throwaway folder; wall time, peak RSS, bytes per fact, the dashboard on it."""
    from rich.console import Console

    from benchmarks.bench_scale import report, scale_run

    console = Console(stderr=True)
    figures = scale_run(days, rows, concurrency=concurrency, dashboard=dashboard, keep=keep, console=console)
    report(figures, json_file, console)


@server_app.command("start")
def server_start() -> None:
    """Start (or find) this state folder's local Prefect server (`prefect server start --background`)."""
    from flows.orchestration.local_stack import ensure_local_server, local_api_url

    settings = get_settings()
    started = ensure_local_server(settings)
    typer.echo(f"Prefect API: {local_api_url(settings)} ({'started' if started else 'already running'})")


@server_app.command("stop")
def server_stop() -> None:
    """Stop this state folder's local Prefect server (`prefect server stop`)."""
    from flows.orchestration.local_stack import stop_local_server

    stop_local_server(get_settings(), echo=typer.echo)


@server_app.command("status")
def server_status() -> None:
    """Whether a Prefect server answers on BAP_PREFECT_PORT, and whether it is this state folder's."""
    from flows.orchestration.local_stack import is_healthy, local_api_url, server_home, server_process

    settings = get_settings()
    url, proc = local_api_url(settings), server_process(settings)
    healthy = is_healthy(url)
    owner = f"this state folder's (pid {proc.pid})" if proc else f"not the server of {server_home(settings)}"
    typer.echo(f"{url}: {'healthy, ' + owner if healthy else 'not running'}")
    raise typer.Exit(0 if healthy else 1)


@app.command()
def bench(
    rows: Annotated[int, typer.Option(min=1000, help="Rows of the one-day figures.")] = 1_000_000,
    facts: Annotated[int, typer.Option(min=0, help="Fact rows of the dashboard figures (0 skips them).")] = 10_000_000,
    repeats: Annotated[int, typer.Option(min=1, help="Runs per figure; medians are reported.")] = 3,
    backfill_days: Annotated[int, typer.Option(min=0, help="Days of the backfill figure (0 skips it).")] = 365,
    scale_curve: Annotated[bool, typer.Option(help="Also measure 10k / 100k / 1M rows a day.")] = False,
    json_file: Annotated[str | None, typer.Option("--json", help="Write the figures to this JSON file.")] = None,
    team: Annotated[
        bool,
        typer.Option(
            "--team/--no-team",
            help="The dashboard for a team: 50 users, first paint and start, against a minimal Gradio app.",
        ),
    ] = True,
) -> None:
    """The speed suite: our figures against baselines measured in the same run."""
    settings = get_settings()
    _prepare(settings)
    from benchmarks.suite import run_suite

    run_suite(
        settings,
        rows=rows,
        facts=facts,
        repeats=repeats,
        backfill_days=backfill_days,
        scale_curve=scale_curve,
        json_path=json_file,
        team=team,
    )


def main() -> None:
    # SIGTERM and SIGHUP (systemd, `docker stop`, a closed terminal) stop a command as Ctrl-C does, so its
    # cleanup runs: the children and servers it started, and the embedded warehouse's release at exit.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _interrupt)
    code = _main()
    # Exit as usual (exit hooks, threads), minus a second of collecting the run's objects just before the
    # process ends: gc.freeze() leaves what exists now out of the exit's garbage collections.
    gc.freeze()
    sys.exit(code)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _main() -> int:
    import psycopg2
    import sqlalchemy as sa

    try:
        result = app(standalone_mode=False)
    except click.exceptions.Abort:
        typer.echo("aborted", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except BapError as exc:
        typer.echo(f"bap: error: {exc}", err=True)
        return 1
    except (sa.exc.OperationalError, psycopg2.OperationalError, psycopg2.InterfaceError) as exc:
        # The load speaks to PostgreSQL through raw DB-API cursors: a dropped connection arrives
        # as psycopg2's own error there, and as SQLAlchemy's (wrapping it) everywhere else.
        orig = getattr(exc, "orig", None) or exc
        reason = (str(orig).strip().splitlines() or [type(orig).__name__])[0]
        typer.echo(
            f"bap: error: the warehouse failed during the run ({reason}); re-run the command once it is back", err=True
        )
        return 1
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    main()

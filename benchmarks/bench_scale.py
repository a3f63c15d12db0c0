"""The scale run: `bap backfill` of many big days (100 x 1,000,000 rows = 100M facts) on this machine.

The backfill is the real command (`python -m flows.cli backfill`, what `bap backfill` runs) with
the default settings otherwise: the embedded PostgreSQL warehouse and the local Prefect server,
both under a throwaway data and state folder, so the user's warehouse and Prefect server are never
touched. Every BAP_* variable of the caller is left out of the command's environment (and no
.env is read: it runs in the throwaway folder), except what the run sets: the folders, the rows
a day, and a free port for its own Prefect server. Both services are started before the timed
command, as they are for a user who has run `bap` before (a first start adds ~15 s once).

Reported, each next to its goal:
- wall time of the command (goal: under 25 min at 100 x 1M);
- peak RSS of any single process (goal: under 4 GiB): every process of the command's tree, of
  the embedded PostgreSQL and of the Prefect server, sampled with psutil every 0.5 s; whether
  the command's memory stays flat from the first half of the days to the second;
- bytes on disk per fact: the lake (raw CSV, processed Parquet, quarantine) and the warehouse
  (the fact table with its partitions and indexes, the rollups, the whole database), separately;
- the dashboard on that warehouse under 50 users x ~1 filter change/s for 60 s, its first paint
  and its start, each next to the minimal Gradio app measured in the same run
  (benchmarks/bench_dashboard_load.py; goals: p95 <= 1.25x, throughput >= 0.8x, no errors,
  first paint and start <= 1.2x).

A benchmark, not a test: CI never runs it. At full size it needs ~34 GB of free disk (see
--dir) and about half an hour; run it on a quiet machine.

    python -m benchmarks.bench_scale --days 100 --rows 1000000 --json bench-results/scale.json
    python -m benchmarks.bench_scale --days 3 --rows 100000 --no-dashboard      # a quick look
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import IO, Any

import psutil
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from flows.settings import Settings

REPO = Path(__file__).resolve().parents[1]
END = date(2024, 12, 31)  # the last day of the backfill (fixed: same seed + date = same bytes)
SAMPLE_EVERY_S = 0.5
GiB = 2**30
MiB = 2**20
ZONES = ("raw", "processed", "quarantine")
ROLLUPS = ("agg_daily_city", "agg_daily_region")
FACT_TABLE = "fact_transactions"
# Only for the free-disk warning before a run: lake + warehouse + WAL per fact, rounded up from
# the small runs of this benchmark (lake ~134 + warehouse ~177 + WAL; README "Scale run").
DISK_BYTES_PER_FACT_GUESS = 340
DAY_DONE = re.compile(r"Task run 'day-(\d{4}-\d{2}-\d{2})' - Finished in state (\w+)")
SUMMARY = re.compile(r"^backfill \S+: (\d+) days loaded, (\d+) rows, ([\d.]+) s$")  # the command's last line
GOALS: dict[str, tuple[str, float, str]] = {  # figure: (op, goal, what)
    "backfill_wall_s": ("<=", 25 * 60.0, "wall time of `bap backfill` (s; goal at 100 days x 1M rows)"),
    "peak_rss_mib": ("<=", 4 * 1024.0, "peak RSS of any single process (MiB)"),
    "rss_second_half_vs_first": ("<=", 1.25, "backfill RSS, 2nd half of the days / 1st half (flat; own bar)"),
    "users_p95_vs_baseline": ("<=", 1.25, "dashboard p95 under load / minimal Gradio app"),
    "changes_per_s_vs_baseline": (">=", 0.8, "dashboard changes/s under load / minimal Gradio app"),
    "dashboard_errors": ("<=", 0.0, "errors under load (dashboard + baseline)"),
    "first_paint_vs_baseline": ("<=", 1.2, "first paint / minimal Gradio app"),
    "start_vs_baseline": ("<=", 1.2, "`bap dashboard` warm start / minimal Gradio app"),
}


# =============================================================================================
# The throwaway folder, its settings and the command's environment
# =============================================================================================


@dataclass(frozen=True)
class ScaleRun:
    """The folders and knobs of one run; everything it writes is under `root`."""

    root: Path
    days: int
    rows: int
    prefect_port: int
    concurrency: int | None = None

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def start(self) -> date:
        return END - timedelta(days=self.days - 1)

    def settings(self) -> Settings:
        """The settings the command will read (for the folders and the Prefect server's port)."""
        return Settings(
            data_dir=str(self.data_dir),
            state_dir=str(self.root / "state"),
            log_dir=str(self.root / "logs"),
            transactions_per_day=self.rows,
            prefect_port=self.prefect_port,
        )

    def env(self) -> dict[str, str]:
        """The command's environment: the caller's minus every BAP_* and Prefect API setting, plus this run's."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("BAP_") and k != "PREFECT_API_URL"}
        env.update(
            BAP_DATA_DIR=str(self.data_dir),
            BAP_STATE_DIR=str(self.root / "state"),
            BAP_LOG_DIR=str(self.root / "logs"),
            BAP_TRANSACTIONS_PER_DAY=str(self.rows),
            BAP_PREFECT_PORT=str(self.prefect_port),
            PYTHONPATH=os.pathsep.join([str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]),
            NO_PROXY="127.0.0.1,localhost",
            no_proxy="127.0.0.1,localhost",
        )
        return env

    def argv(self) -> list[str]:
        argv = [sys.executable, "-m", "flows.cli", "backfill", "--start", str(self.start), "--end", str(END)]
        return argv + (["--concurrency", str(self.concurrency)] if self.concurrency else [])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# =============================================================================================
# The services: the embedded PostgreSQL (held by a small child process) and the Prefect server
# =============================================================================================

_HOLD = (
    "import sys; from pathlib import Path; from flows.warehouse.embedded import embedded_url; "
    "print(embedded_url(Path(sys.argv[1])), flush=True); sys.stdin.read()"
)


@contextmanager
def services(run: ScaleRun, say: Callable[[str], None]) -> Iterator[str]:
    """The embedded PostgreSQL and the local Prefect server of `run`, up until the block ends; yields
    the warehouse URL. The server is held by a child process (pgserver stops it when its last
    user exits: the child, once its stdin closes); the Prefect server is stopped at the end."""
    from flows.orchestration.local_stack import ensure_local_server, stop_local_server

    settings = run.settings()
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(settings.embedded_pgdata)],
        env=run.env(),
        cwd=run.root,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        url = holder.stdout.readline().strip()
        if not url:
            raise RuntimeError(f"the embedded PostgreSQL did not start; see {settings.embedded_pgdata / 'log'}")
        ensure_local_server(settings, echo=say)
        yield url
    finally:
        stop_local_server(settings, echo=say)
        _stop(holder, close_stdin=True)


def postgres_process(run: ScaleRun) -> psutil.Process | None:
    """The embedded server's postmaster (first line of postmaster.pid), if it runs."""
    try:
        pid = int((run.settings().embedded_pgdata / "postmaster.pid").read_text().split()[0])
        return psutil.Process(pid)
    except (OSError, ValueError, IndexError, psutil.Error):
        return None


# =============================================================================================
# Memory: every process of the command, PostgreSQL and the Prefect server, every 0.5 s
# =============================================================================================


@dataclass
class ProcessPeak:
    role: str
    pid: int
    what: str
    rss: int = 0
    cpu_s: float = 0.0  # user + system, as last seen


@dataclass
class RssSampler:
    """Samples the RSS of every process under each root every SAMPLE_EVERY_S seconds, in a thread.

    RSS as the kernel reports it: a PostgreSQL backend's includes the shared buffers it touched."""

    roots: Callable[[], dict[str, psutil.Process | None]]
    days_done: Callable[[], int]
    peaks: dict[int, ProcessPeak] = field(default_factory=dict)
    timeline: list[dict[str, Any]] = field(default_factory=list)
    peak_total: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)

    def sample(self) -> None:
        by_role: dict[str, int] = {}
        total = 0
        for role, root in self.roots().items():
            for proc in _tree(root):
                try:
                    rss = proc.memory_info().rss
                    cpu = proc.cpu_times()
                    peak = self.peaks.get(proc.pid)
                    if peak is None:
                        peak = self.peaks[proc.pid] = ProcessPeak(role, proc.pid, _describe(proc))
                except psutil.Error:
                    continue
                peak.rss = max(peak.rss, rss)
                peak.cpu_s = max(peak.cpu_s, cpu.user + cpu.system)
                by_role[role] = max(by_role.get(role, 0), rss)
                total += rss
        self.peak_total = max(self.peak_total, total)
        self.timeline.append({"t": time.monotonic(), "days_done": self.days_done(), "max_rss_by_role": by_role})

    def _loop(self) -> None:
        while not self._stop.wait(SAMPLE_EVERY_S):
            self.sample()

    @contextmanager
    def running(self) -> Iterator[RssSampler]:
        thread = threading.Thread(target=self._loop, name="rss-sampler", daemon=True)
        self.sample()
        thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            thread.join()
            self.sample()

    def top(self) -> ProcessPeak | None:
        return max(self.peaks.values(), key=lambda p: p.rss, default=None)


def _tree(root: psutil.Process | None) -> list[psutil.Process]:
    if root is None:
        return []
    try:
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def _describe(proc: psutil.Process) -> str:
    """A short name for a process: `postgres: ... COPY`, `python -m flows.cli backfill`, `prefect server`."""
    cmdline = proc.cmdline()
    if not cmdline:
        return proc.name()
    text = " ".join(cmdline)
    if "prefect.server" in text or "prefect server" in text:
        return "prefect server"
    if "flows.cli" in text:
        return "python -m flows.cli " + " ".join(cmdline[cmdline.index("flows.cli") + 1 :][:1])
    return text[:60]


def memory_figures(sampler: RssSampler, days: int, width: int) -> dict[str, Any]:
    """The peak single-process RSS and its process; each role's peak and CPU seconds; the backfill's
    own peak while the first half of the days ran against while the second half did (flat: ratio
    near 1; only with at least two rounds of `width` days in each half, else the halves overlap).

    CPU seconds are summed over the processes seen (a process that lives less than a sample is
    missed): on a busy machine they say what the run costs better than its wall time does."""
    top = sampler.top()
    halves: dict[str, int] = {"first": 0, "second": 0}
    for point in sampler.timeline:
        half = "first" if point["days_done"] < days / 2 else "second"
        halves[half] = max(halves[half], point["max_rss_by_role"].get("backfill", 0))
    roles: dict[str, dict[str, Any]] = {}
    for peak in sampler.peaks.values():
        if peak.rss > roles.get(peak.role, {}).get("rss_mib", -1) * MiB:
            roles[peak.role] = {"rss_mib": round(peak.rss / MiB, 1), "pid": peak.pid, "process": peak.what}
    figures: dict[str, Any] = {
        "peak_rss_mib": round(top.rss / MiB, 1) if top else None,
        "peak_rss_process": f"{top.what} (pid {top.pid}, {top.role})" if top else None,
        "peak_rss_by_role": roles,
        "peak_total_rss_mib": round(sampler.peak_total / MiB, 1),
        "backfill_rss_first_half_mib": round(halves["first"] / MiB, 1),
        "backfill_rss_second_half_mib": round(halves["second"] / MiB, 1),
        "rss_samples": len(sampler.timeline),
    }
    cpu: dict[str, float] = {}
    for peak in sampler.peaks.values():
        cpu[peak.role] = round(cpu.get(peak.role, 0.0) + peak.cpu_s, 1)
    figures["cpu_s_by_role"] = cpu
    if halves["first"] and halves["second"] and days >= 4 * width:
        figures["rss_second_half_vs_first"] = round(halves["second"] / halves["first"], 3)
    return figures


# =============================================================================================
# The backfill
# =============================================================================================


@dataclass
class Progressed:
    done: int = 0
    states: dict[str, str] = field(default_factory=dict)
    summary: dict[str, float] = field(default_factory=dict)


def _follow(stream: IO[str], log: IO[str], progressed: Progressed, tick: Callable[[], None]) -> None:
    for line in stream:
        log.write(line)
        match = DAY_DONE.search(line)
        if match:
            progressed.states[match[1]] = match[2]
            progressed.done = len(progressed.states)
            tick()
        summary = SUMMARY.match(line.strip())
        if summary:
            progressed.summary = {
                "days_loaded_reported": int(summary[1]),
                "rows_loaded_reported": int(summary[2]),
                "backfill_reported_s": float(summary[3]),  # inside the command: no interpreter start
            }


def run_backfill(run: ScaleRun, tick: Callable[[Progressed, RssSampler], None]) -> dict[str, Any]:
    """`bap backfill` of the run's days as a child process, its memory sampled; the wall time,
    the memory figures and each day's final state (from Prefect's run log)."""
    progressed = Progressed()
    proc: subprocess.Popen[str] | None = None

    def roots() -> dict[str, psutil.Process | None]:
        from flows.orchestration.local_stack import server_process

        command = psutil.Process(proc.pid) if proc is not None and proc.poll() is None else None
        return {"backfill": command, "postgres": postgres_process(run), "prefect": server_process(run.settings())}

    sampler = RssSampler(roots, lambda: progressed.done)
    log_path = run.root / "backfill.log"
    with log_path.open("w") as log, sampler.running():
        began = time.perf_counter()
        proc = subprocess.Popen(
            run.argv(), env=run.env(), cwd=run.root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        try:
            assert proc.stdout is not None
            _follow(proc.stdout, log, progressed, lambda: tick(progressed, sampler))
            code = proc.wait()
        finally:
            _stop(proc)  # interrupted: SIGTERM stops `bap backfill` as Ctrl-C does, with its cleanup
        wall = time.perf_counter() - began
    if code != 0:
        tail = log_path.read_text().splitlines()[-15:]
        raise RuntimeError(f"`bap backfill` exited with {code}; the end of {log_path}:\n" + "\n".join(tail))
    loaded = sum(1 for s in progressed.states.values() if s == "Completed")
    return {
        "backfill_wall_s": round(wall, 2),
        "days_completed": loaded,
        "day_states": progressed.states,
        **progressed.summary,
        **memory_figures(sampler, run.days, _concurrency(run)),
        "rss_timeline": _timeline(sampler),
    }


def _stop(proc: subprocess.Popen[str], *, close_stdin: bool = False) -> None:
    """Stop `proc` (closing its stdin, or SIGTERM), wait for it, and close its pipes."""
    if close_stdin and proc.stdin is not None:
        proc.stdin.close()
    elif proc.poll() is None:
        proc.terminate()
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    for pipe in (proc.stdin, proc.stdout):
        if pipe is not None:
            pipe.close()


def _timeline(sampler: RssSampler, points: int = 200) -> list[dict[str, Any]]:
    """At most `points` samples (every n-th), times from the first sample, RSS in MiB."""
    line = sampler.timeline
    if not line:
        return []
    t0, step = line[0]["t"], max(1, len(line) // points)
    return [
        {
            "t_s": round(p["t"] - t0, 1),
            "days_done": p["days_done"],
            **{f"{role}_mib": round(rss / MiB, 1) for role, rss in p["max_rss_by_role"].items()},
        }
        for p in line[::step]
    ]


# =============================================================================================
# Bytes on disk
# =============================================================================================


def folder_bytes(path: Path) -> int:
    """Sum of the sizes of the files under `path` (0 if it does not exist)."""
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.exists() else 0


def storage_figures(run: ScaleRun, url: str) -> dict[str, Any]:
    """The lake's zones and the warehouse's tables in bytes, and each per fact in the warehouse."""
    from flows.warehouse.connection import make_engine
    from flows.warehouse.sql import sql

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            rows = [dict(r._mapping) for r in conn.exec_driver_sql(sql("ops/storage_bytes.sql"))]
    finally:
        engine.dispose()
    facts = int(rows[0]["facts"]) if rows else 0
    tables = {r["table_name"]: int(r["bytes"]) for r in rows}
    lake = {zone: folder_bytes(run.data_dir / zone) for zone in ZONES}
    warehouse = {
        "fact_table": tables.get(FACT_TABLE, 0),
        "rollups": sum(tables.get(t, 0) for t in ROLLUPS),
        "database": int(rows[0]["database_bytes"]) if rows else 0,
    }
    per_fact: dict[str, float | None] = {}
    for prefix, sizes in (("lake", {**lake, "total": sum(lake.values())}), ("warehouse", warehouse)):
        for name, size in sizes.items():
            per_fact[f"{prefix}_{name}"] = round(size / facts, 1) if facts else None
    return {
        "facts": facts,
        "lake_bytes": {**lake, "total": sum(lake.values())},
        "warehouse_bytes": warehouse,
        "warehouse_table_bytes": tables,
        "quality_folder_bytes": folder_bytes(run.data_dir / "quality"),  # GX results and Data Docs
        "pgdata_bytes": folder_bytes(run.settings().embedded_pgdata),  # the database cluster, WAL included
        "bytes_per_fact": per_fact,
    }


# =============================================================================================
# The run
# =============================================================================================


def dashboard_figures(url: str, users: int, seconds: float, browser: bool) -> dict[str, Any]:
    """benchmarks/bench_dashboard_load.py's figures on this warehouse, with the ratios to the baseline."""
    from benchmarks.bench_dashboard_load import measure

    figures = measure(url, users=users, seconds=seconds, seed=11, browser=browser)
    pairs = {
        "users_p95_vs_baseline": ("dashboard_users_p95_ms", "baseline_users_p95_ms"),
        "changes_per_s_vs_baseline": ("dashboard_changes_per_s", "baseline_changes_per_s"),
        "first_paint_vs_baseline": ("dashboard_first_paint_ms", "baseline_first_paint_ms"),
        "start_vs_baseline": ("dashboard_start_s", "baseline_start_s"),
    }
    for ratio, (ours, base) in pairs.items():
        if figures.get(ours) and figures.get(base):
            figures[ratio] = round(figures[ours] / figures[base], 3)
    figures["dashboard_errors"] = figures["dashboard_errors"] + figures["baseline_errors"]
    return figures


def scale_run(
    days: int = 100,
    rows: int = 1_000_000,
    *,
    concurrency: int | None = None,
    users: int = 50,
    seconds: float = 60.0,
    dashboard: bool = True,
    browser: bool = True,
    keep: bool = False,
    parent: str | Path | None = None,
    console: Console | None = None,
    prepare: Callable[[Settings], object] | None = None,
) -> dict[str, Any]:
    """The whole run in a throwaway folder under `parent` (removed at the end unless `keep`).
    `prepare` gets the run's settings before any service starts (the tests seed its Prefect
    server's home, so that the server skips its first-start migrations)."""
    from benchmarks.common import machine

    console = console or Console(stderr=True)
    root = Path(tempfile.mkdtemp(prefix="bap-scale-", dir=parent))
    run = ScaleRun(root, days, rows, free_port(), concurrency)
    figures: dict[str, Any] = {"days": days, "rows_per_day": rows, "facts_planned": days * rows}
    figures.update(
        folder=str(root), kept=keep, prefect_port=run.prefect_port, machine=machine(), concurrency=_concurrency(run)
    )
    _warn_about_disk(root, days * rows, console)
    try:
        if prepare is not None:
            prepare(run.settings())
        began = time.perf_counter()
        with services(run, say=lambda m: console.print(f"[dim]{m}[/dim]")) as url:
            figures["services_start_s"] = round(time.perf_counter() - began, 1)  # not in the backfill's time
            console.print(f"backfill of {days} days x {rows:,} rows ({days * rows:,} facts) into {root}")
            figures.update(_backfill_with_progress(run, console))
            console.print("measuring the lake and the warehouse on disk")
            figures.update(storage_figures(run, url))
            if dashboard:
                console.print(
                    f"dashboard: {users} users x {seconds:.0f} s, then first paint and start, and the baseline"
                )
                figures.update(dashboard_figures(url, users, seconds, browser))
    finally:
        if not keep:
            shutil.rmtree(root, ignore_errors=True)
    if figures.get("facts"):
        figures["backfill_s_per_million_facts"] = round(figures["backfill_wall_s"] / (figures["facts"] / 1e6), 2)
    return figures


def _concurrency(run: ScaleRun) -> int:
    """Days at once: --concurrency, else the default BAP_BACKFILL_CONCURRENCY (the command sees no BAP_* of ours)."""
    return run.concurrency or int(Settings.model_fields["backfill_concurrency"].default)


def _warn_about_disk(root: Path, facts: int, console: Console) -> None:
    free = shutil.disk_usage(root).free
    need = facts * DISK_BYTES_PER_FACT_GUESS
    console.print(f"free disk under {root.parent}: {free / GiB:,.1f} GiB (the run needs roughly {need / GiB:,.1f} GiB)")
    if free < need:
        console.print("[bold red]not enough free disk for this run: choose another --dir[/bold red]")


def _backfill_with_progress(run: ScaleRun, console: Console) -> dict[str, Any]:
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("backfill", total=run.days)

        def tick(progressed: Progressed, sampler: RssSampler) -> None:
            top = sampler.top()
            peak = f", peak RSS {top.rss / MiB:,.0f} MiB ({top.what})" if top else ""
            progress.update(task, completed=progressed.done, description=f"backfill{peak}")

        return run_backfill(run, tick)


# =============================================================================================
# Printing
# =============================================================================================


def print_figures(figures: dict[str, Any], console: Console) -> None:
    facts = figures.get("facts") or 0
    table = Table(title=f"bap scale run - {figures['days']} days x {figures['rows_per_day']:,} rows, {facts:,} facts")
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_row("backfill wall time", f"{figures['backfill_wall_s']:,.1f} s ({figures['concurrency']} days at once)")
    table.add_row("  per million facts", f"{figures.get('backfill_s_per_million_facts', 0):,.2f} s")
    table.add_row("peak RSS, one process", f"{figures['peak_rss_mib']:,.0f} MiB: {figures['peak_rss_process']}")
    for role, peak in figures["peak_rss_by_role"].items():
        table.add_row(f"  peak of {role}", f"{peak['rss_mib']:,.0f} MiB: {peak['process']}")
    table.add_row(
        "  backfill, 1st / 2nd half of the days",
        f"{figures['backfill_rss_first_half_mib']:,.0f} / {figures['backfill_rss_second_half_mib']:,.0f} MiB",
    )
    cpu = figures["cpu_s_by_role"]
    table.add_row("CPU seconds (user + system)", ", ".join(f"{role} {s:,.0f}" for role, s in cpu.items()))
    for prefix, sizes in (("lake", figures["lake_bytes"]), ("warehouse", figures["warehouse_bytes"])):
        for name, size in sizes.items():
            per = figures["bytes_per_fact"].get(f"{prefix}_{name}")
            table.add_row(f"{prefix}: {name}", f"{size / MiB:,.1f} MiB, {per} B/fact")
    for key in (
        "dashboard_users_p95_ms",
        "baseline_users_p95_ms",
        "dashboard_changes_per_s",
        "baseline_changes_per_s",
        "dashboard_first_paint_ms",
        "baseline_first_paint_ms",
        "dashboard_start_s",
        "baseline_start_s",
    ):
        if figures.get(key) is not None:
            table.add_row(key, f"{figures[key]:,.2f}")
    console.print(table)
    console.print(verdicts(figures))


def verdicts(figures: dict[str, Any]) -> Table:
    table = Table(title="goals (ratios: baseline measured in this run)")
    for column in ("goal", "measured", "target", "met"):
        table.add_column(column)
    for key, (op, goal, label) in GOALS.items():
        value = figures.get(key)
        if not isinstance(value, (int, float)):
            continue
        met = value >= goal if op == ">=" else value <= goal
        table.add_row(label, f"{value:,.2f}", f"{op} {goal:g}", "yes" if met else "[bold red]NO[/bold red]")
    return table


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=100)
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows a day")
    parser.add_argument("--concurrency", type=int, default=None, help="days at once (default: the product's)")
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the dashboard load")
    parser.add_argument("--no-dashboard", action="store_true", help="skip the dashboard figures")
    parser.add_argument("--no-browser", action="store_true", help="skip first paint and start")
    parser.add_argument("--keep", action="store_true", help="keep the data and state folder (printed)")
    parser.add_argument("--dir", default=None, help="where to make the throwaway folder (default: the temp dir)")
    parser.add_argument("--json", dest="json_path", default=None, help="write the figures to this JSON file")
    args = parser.parse_args(argv)
    console = Console(stderr=True)
    figures = scale_run(
        args.days,
        args.rows,
        concurrency=args.concurrency,
        users=args.users,
        seconds=args.seconds,
        dashboard=not args.no_dashboard,
        browser=not args.no_browser,
        keep=args.keep,
        parent=args.dir,
        console=console,
    )
    report(figures, args.json_path, console)
    return figures


def report(figures: dict[str, Any], json_path: str | Path | None, console: Console) -> None:
    """The tables on stdout; where the kept folder is; the figures as JSON when asked."""
    print_figures(figures, Console())
    if figures["kept"]:
        folder = figures["folder"]
        console.print(f"kept {folder}: BAP_DATA_DIR={folder}/data BAP_STATE_DIR={folder}/state reach its warehouse")
    if json_path:
        Path(json_path).parent.mkdir(parents=True, exist_ok=True)
        Path(json_path).write_text(json.dumps(figures, indent=2, default=str) + "\n")
        console.print(f"figures written to {json_path}")


if __name__ == "__main__":
    main()

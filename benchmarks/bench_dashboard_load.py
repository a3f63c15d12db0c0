"""The dashboard for a team: 50 users at once, first paint and start, each next to Gradio's floor.

Three measurements, each taken on the real dashboard (ui.app.serve on a warehouse built by
bench_dashboard.build_warehouse, or reused with --url) and on the minimal Gradio app of
benchmarks/baseline_app.py, in the same run, served and driven the same way:

- **Under load**: `users` simulated users, each its own `gradio_client.Client` session, change a
  filter about once a second (a random pause of 0.5-1.5 s after each answer) for `seconds`
  seconds through the public `/filters` endpoint. The users and their choices are the same
  seeded sequence for both apps; they run as threads in a child process, so the load generator
  does not share the server's GIL. Reported: the p95 latency as the client sees it, completed
  changes per second, errors (there must be none).
- **First paint**: in Chromium (Playwright, /usr/bin/chromium), the time from navigation until
  every KPI card and the five charts are drawn (for the baseline: its five charts).
- **Start**: `bap dashboard` (and `python -m benchmarks.baseline_app`) from process start until
  it answers HTTP, warm (the second of two launches).

    python -m benchmarks.bench_dashboard_load --facts 1000000 --users 10 --seconds 15
    python -m benchmarks.bench_dashboard_load --days 90 --facts 2000000 --json bench-results/dashboard_team.json

Needs a PostgreSQL server where it may create a database (BAP_BENCH_PG_URL, else BAP_TEST_PG_URL,
else postgresql://postgres@127.0.0.1:5432/postgres). All traffic goes to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

CLIENT_GRACE_S = 60.0  # past `seconds`: start-up of the clients and in-flight changes
CHANGES: dict[str, float] = {  # what a user changes next, with weights
    "preset": 2.0,
    "region": 2.0,
    "state": 2.0,
    "city": 1.5,
    "channel": 2.0,
    "segment": 1.5,
    "refresh": 0.5,
}
FILTERS = ("preset", "start", "end", "region", "state", "city", "channel", "segment")
DASHBOARD_READY = (  # first paint: every KPI card and the five charts drawn
    "() => document.querySelectorAll(\"[data-kpi][data-value]:not([data-value=''])\").length === 4"
    " && document.querySelectorAll('.bap-chart .js-plotly-plot .main-svg').length >= 5"
)
BASELINE_READY = "() => document.querySelectorAll('.js-plotly-plot .main-svg').length >= 5"
FIGURES = (  # what `bap bench` reports, each next to its baseline from the same run
    "dashboard_users_p95_ms",
    "baseline_users_p95_ms",
    "dashboard_changes_per_s",
    "baseline_changes_per_s",
    "dashboard_first_paint_ms",
    "baseline_first_paint_ms",
    "dashboard_start_s",
    "baseline_start_s",
    "dashboard_server_cpu_ms_per_change",
    "baseline_server_cpu_ms_per_change",
)


# =============================================================================================
# The users (run in a child process; need only gradio_client)
# =============================================================================================


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))], 1)


def _narrowed(values: dict[str, Any], geography: list[list[str]], level: str) -> list[str]:
    """What the page offers at `level` once the levels above are chosen (the cascade)."""
    region, state = values["region"], values["state"]
    rows = [g for g in geography if region in ("All", g[0]) and (level != "city" or state in ("All", g[1]))]
    return sorted({g[1 if level == "state" else 2] for g in rows})


def next_filters(current: list[Any], options: dict[str, Any], rng: random.Random) -> list[Any]:
    """One change a person makes: one filter set to another option the page offers it (the
    region -> state -> city cascade narrows, and a parent change resets its children; a preset
    sends no dates, so the preset's period applies; Refresh changes nothing)."""
    change = rng.choices(list(CHANGES), weights=list(CHANGES.values()))[0]
    values = dict(zip(FILTERS, current, strict=True))
    geography = options.get("geography") or []
    if change == "preset":
        values.update(preset=rng.choice(options["preset"]), start=None, end=None)
    elif change in ("state", "city") and geography:
        values[change] = rng.choice(["All", *_narrowed(values, geography, change)])
        if change == "state":
            values["city"] = "All"
    elif change != "refresh":
        values[change] = rng.choice(options[change])
        if change == "region":
            values.update(state="All", city="All")
    return [values[name] for name in FILTERS]


def geography_of(url: str) -> list[list[str]]:
    """(region, state, city) of every city in the warehouse: the cascade the users walk."""
    from flows.warehouse.connection import make_engine

    engine = make_engine(url)
    with engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT region, state, city_name FROM dim_city").all()
    engine.dispose()
    return [[str(v) for v in row] for row in rows]


def _user(
    url: str, options: dict[str, Any], seed: int, seconds: float, go: threading.Barrier, sink: dict[str, list[Any]]
) -> None:
    """One session: connect (not timed), wait until every session is connected, then change filters."""
    from gradio_client import Client

    rng = random.Random(seed)
    try:  # its own session; a browser fetches the CSV only on a click
        client = Client(url, verbose=False, download_files=False)
    except Exception as exc:
        sink["errors"].append(f"connect {type(exc).__name__}: {str(exc)[:200]}")
        go.abort()  # a session that cannot connect ends the run: the others must not wait forever
        return
    try:
        go.wait(CLIENT_GRACE_S)
    except threading.BrokenBarrierError:
        return
    until = time.monotonic() + seconds
    current: list[Any] = ["Last 30 days", None, None, "All", "All", "All", "All", "All"]
    while time.monotonic() < until:
        current = next_filters(current, options, rng)
        began = time.perf_counter()
        try:
            client.predict(*current, api_name="/filters")
        except Exception as exc:  # every failure is counted and shown, none is hidden
            sink["errors"].append(f"{type(exc).__name__}: {str(exc)[:200]}")
        else:
            sink["latency_ms"].append((time.perf_counter() - began) * 1000)
        time.sleep(rng.uniform(0.5, 1.5))


def drive(url: str, users: int, seconds: float, *, options: dict[str, Any], seed: int = 11) -> dict[str, Any]:
    """`users` sessions changing filters for `seconds` seconds; latencies and errors."""
    if urlparse(url).hostname not in ("127.0.0.1", "localhost", "::1"):
        raise ValueError("the load goes to the local machine only")
    sink: dict[str, list[Any]] = {"latency_ms": [], "errors": []}
    go = threading.Barrier(users + 1)  # the clock starts when every session is connected
    threads = [
        threading.Thread(target=_user, args=(url, options, seed * 1000 + i, seconds, go, sink), daemon=True)
        for i in range(users)
    ]
    for t in threads:
        t.start()
    try:
        go.wait(CLIENT_GRACE_S)
    except threading.BrokenBarrierError:
        pass
    start = time.monotonic()
    for t in threads:
        t.join(max(0.0, start + seconds + CLIENT_GRACE_S - time.monotonic()))
    elapsed = time.monotonic() - start
    done = sink["latency_ms"]
    return {
        "changes": len(done),
        "elapsed_s": round(elapsed, 1),
        "changes_per_s": round(len(done) / elapsed, 2),
        "p50_ms": _pct(done, 0.50),
        "p95_ms": _pct(done, 0.95),
        "errors": len(sink["errors"]),
        "error_samples": sink["errors"][:20],
    }


def _child() -> None:
    params = json.loads(sys.stdin.read())
    print(json.dumps(drive(params.pop("url"), params.pop("users"), params.pop("seconds"), **params)))


def drive_in_child(url: str, users: int, seconds: float, options: dict[str, Any], seed: int) -> dict[str, Any]:
    code = "from benchmarks.bench_dashboard_load import _child; _child()"
    params = {"url": url, "users": users, "seconds": seconds, "options": options, "seed": seed}
    env = {**os.environ, "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}
    proc = subprocess.run(
        [sys.executable, "-c", code],
        input=json.dumps(params),
        capture_output=True,
        text=True,
        env=env,
        timeout=seconds + 3 * CLIENT_GRACE_S,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"the load generator failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def dashboard_options(url: str) -> dict[str, list[str]]:
    """The choices of the dashboard's dropdowns, as its public /config lists them."""
    import httpx

    config = httpx.get(url + "/config", timeout=30).json()
    by_elem = {c["props"].get("elem_id"): c["props"] for c in config["components"] if c.get("props")}
    options = {}
    for name in ("preset", "region", "state", "city", "channel", "segment"):
        choices = by_elem[f"f-{name}"].get("choices") or []
        options[name] = [str(c[1] if isinstance(c, (list, tuple)) else c) for c in choices]
    options["preset"] = [p for p in options["preset"] if p != "Custom"]
    return options


# =============================================================================================
# Serving both apps, first paint, start
# =============================================================================================


def _serve_settings(url: str, data_dir: Path) -> Any:
    from flows.settings import Settings

    return Settings(warehouse_url=url, data_dir=str(data_dir), dashboard_refresh_s=600, dashboard_host="127.0.0.1")


@contextmanager
def served(url: str) -> Iterator[tuple[str, str, Any]]:
    """(dashboard URL, baseline URL, the dashboard's server handle), both served in this process."""
    from benchmarks.baseline_app import serve_baseline
    from ui.app import serve

    with tempfile.TemporaryDirectory(prefix="bap-team-") as tmp:
        dashboard = serve(_serve_settings(url, Path(tmp) / "data"), port=0, data_docs_dir=Path(tmp), block=False)
        baseline = serve_baseline(0)
        try:
            yield dashboard.url, baseline.url, dashboard
        finally:
            baseline.close()
            dashboard.close()


def first_paint(urls: dict[str, str], repeats: int = 3) -> dict[str, float]:
    """Median ms from navigation until the page is drawn (see DASHBOARD_READY / BASELINE_READY),
    the apps taking turns in one Chromium."""
    from playwright.sync_api import sync_playwright

    ready = {"dashboard": DASHBOARD_READY, "baseline": BASELINE_READY}
    times: dict[str, list[float]] = {name: [] for name in urls}
    executable = "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else shutil.which("chromium")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=["--no-sandbox", "--disable-gpu"])
        for i in range(repeats + 1):  # the first round warms both servers' caches
            for name, url in urls.items():
                page = browser.new_page(viewport={"width": 1440, "height": 1000})
                page.goto(url + "/")
                page.wait_for_function(ready[name], timeout=60_000, polling="raf")
                if i:
                    times[name].append(page.evaluate("() => performance.now()"))
                page.close()
        browser.close()
    return {name: round(sorted(t)[len(t) // 2], 1) for name, t in times.items()}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _launch_until_answered(argv: list[str], env: dict[str, str], port: int) -> float:
    import httpx

    began = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{' '.join(argv)} exited with {proc.returncode}")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/", timeout=2).status_code == 200:
                    return time.perf_counter() - began
            except httpx.TransportError:
                pass
            if time.perf_counter() - began > 120:
                raise RuntimeError(f"{' '.join(argv)} did not answer within 120 s")
            time.sleep(0.05)
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def start_times(url: str) -> dict[str, float]:
    """Seconds from process start until HTTP answers, warm (the second of two launches):
    `bap dashboard` on the warehouse and `python -m benchmarks.baseline_app`."""
    commands: dict[str, Callable[[int], list[str]]] = {
        "dashboard": lambda port: [sys.executable, "-m", "flows.cli", "dashboard", "--port", str(port)],
        "baseline": lambda port: [sys.executable, "-m", "benchmarks.baseline_app", "--port", str(port)],
    }
    out = {}
    with tempfile.TemporaryDirectory(prefix="bap-start-") as tmp:
        env = {**os.environ, "BAP_WAREHOUSE_URL": url, "BAP_DATA_DIR": tmp, "NO_PROXY": "127.0.0.1"}
        for name, argv in commands.items():
            runs = [_launch_until_answered(argv(port), env, port) for port in (_free_port(), _free_port())]
            out[name] = round(runs[-1], 2)
    return out


# =============================================================================================
# The benchmark
# =============================================================================================


def _with_server_cpu(drive_one: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """drive_one()'s figures plus the CPU the serving process (this one: both apps are served here,
    the users run in a child) spent per completed change: on 2 shared cores it decides the
    throughput, and it is steadier from run to run than the wall-clock figures."""
    before = os.times()
    result = drive_one()
    after = os.times()
    cpu_ms = (after.user - before.user + after.system - before.system) * 1000
    result["server_cpu_ms_per_change"] = round(cpu_ms / result["changes"], 2) if result["changes"] else None
    return result


def measure(url: str, *, users: int, seconds: float, seed: int, browser: bool = True) -> dict[str, Any]:
    """Every figure on the warehouse at `url`, the baseline's next to the dashboard's."""
    with served(url) as (dashboard_url, baseline_url, server):
        options: dict[str, Any] = {**dashboard_options(dashboard_url), "geography": geography_of(url)}
        dash = _with_server_cpu(lambda: drive_in_child(dashboard_url, users, seconds, options, seed))
        base = _with_server_cpu(lambda: drive_in_child(baseline_url, users, seconds, options, seed))
        rendered = server.blocks.dashboard
        paint = first_paint({"dashboard": dashboard_url, "baseline": baseline_url}) if browser else {}
    start = start_times(url) if browser else {}
    result: dict[str, Any] = {
        "users": users,
        "seconds": seconds,
        "dashboard_users_p95_ms": dash["p95_ms"],
        "dashboard_users_p50_ms": dash["p50_ms"],
        "dashboard_changes_per_s": dash["changes_per_s"],
        "dashboard_errors": dash["errors"],
        "baseline_users_p95_ms": base["p95_ms"],
        "baseline_users_p50_ms": base["p50_ms"],
        "baseline_changes_per_s": base["changes_per_s"],
        "baseline_errors": base["errors"],
        "dashboard_server_cpu_ms_per_change": dash["server_cpu_ms_per_change"],
        "baseline_server_cpu_ms_per_change": base["server_cpu_ms_per_change"],
        "render_cache_hits": rendered.render_hits,
        "render_cache_misses": rendered.render_misses,
        "error_samples": dash["error_samples"] + base["error_samples"],
    }
    if paint:
        result.update(dashboard_first_paint_ms=paint["dashboard"], baseline_first_paint_ms=paint["baseline"])
    if start:
        result.update(dashboard_start_s=start["dashboard"], baseline_start_s=start["baseline"])
    return result


def main(
    facts: int = 2_000_000,
    users: int = 50,
    seconds: float = 60,
    json_path: str | Path | None = None,
    *,
    url: str | None = None,
    days: int = 90,
    seed: int = 11,
    browser: bool = True,
    admin_url: str | None = None,
    settings: Any = None,
) -> dict[str, Any]:
    """Build a warehouse (or reuse `url`), measure, print and return the figures (FIGURES are the
    ones `bap bench` reports). The default is the demo's shape (90 days); `--facts 10000000 --days
    730` is the large one. The throwaway database lives on `admin_url`'s server, else on the
    server of `settings`' warehouse, else BAP_BENCH_PG_URL / BAP_TEST_PG_URL / localhost."""
    from sqlalchemy.engine import make_url

    from benchmarks.bench_dashboard import DEFAULT_ADMIN_URL, build_warehouse, throwaway_database
    from benchmarks.common import machine

    if admin_url is None and settings is not None and url is None:
        from flows.warehouse.connection import resolve_url

        admin_url = make_url(resolve_url(settings)).set(database="postgres").render_as_string(hide_password=False)
    admin_url = (
        admin_url or os.environ.get("BAP_BENCH_PG_URL") or os.environ.get("BAP_TEST_PG_URL") or DEFAULT_ADMIN_URL
    )
    if url:
        result = {"warehouse": "reused", **measure(url, users=users, seconds=seconds, seed=seed, browser=browser)}
    else:
        with throwaway_database(admin_url) as warehouse:
            print(f"building {facts:,} facts over {days} days ...", file=sys.stderr)
            build_warehouse(warehouse, facts=facts, days=days, progress=True, with_quality=True)
            result = measure(warehouse, users=users, seconds=seconds, seed=seed, browser=browser)
            result["database"] = make_url(warehouse).database
        result.update(facts=facts, days=days)
    result["machine"] = machine()
    print(json.dumps({k: v for k, v in result.items() if k != "machine"}, indent=2, default=str))
    if json_path:
        Path(json_path).parent.mkdir(parents=True, exist_ok=True)
        Path(json_path).write_text(json.dumps(result, indent=2, default=str) + "\n")
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--facts", type=int, default=2_000_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--no-browser", action="store_true", help="skip first paint and start")
    parser.add_argument("--url", default=None, help="reuse this warehouse (built by bench_dashboard)")
    parser.add_argument("--json", dest="json_path", default=None)
    args = parser.parse_args()
    figures = main(
        args.facts,
        args.users,
        args.seconds,
        args.json_path,
        url=args.url,
        days=args.days,
        seed=args.seed,
        browser=not args.no_browser,
    )
    sys.exit(1 if figures["dashboard_errors"] or figures["baseline_errors"] else 0)

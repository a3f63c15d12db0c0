"""`bap up`: everything comes up, a deployment runs through it, and Ctrl-C / SIGTERM leave no process behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import httpx
import psutil
import pytest
import sqlalchemy as sa
from pydantic import SecretStr
from sqlalchemy.engine import make_url

from flows.orchestration import prefect_api
from flows.orchestration.local_stack import is_healthy
from flows.settings import Settings
from tests.orchestration.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]


def test_children_get_the_resolved_settings_with_absolute_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BAP_PREFECT_API_URL", "http://stale/api")
    settings = Settings(
        data_dir="rel/data", log_dir="rel/logs", warehouse_url=SecretStr("postgresql://u:pw@db/bap"), task_runner="dask"
    )
    env = settings.child_env("http://127.0.0.1:4200/api")
    assert env["BAP_DATA_DIR"] == str(Path("rel/data").resolve()) and Path(env["BAP_LOG_DIR"]).is_absolute()
    assert env["BAP_WAREHOUSE_URL"] == "postgresql://u:pw@db/bap", (
        "a secret reaches the child, not the Prefect database"
    )
    assert env["BAP_TASK_RUNNER"] == "dask" and env["PREFECT_API_URL"] == "http://127.0.0.1:4200/api"
    assert "BAP_PREFECT_API_URL" not in env and "BAP_ALERT_WEBHOOK_URL" not in env
    assert Settings(data_dir="s3://bucket/lake").child_env("x")["BAP_DATA_DIR"] == "s3://bucket/lake"


def _terminal_signals() -> None:
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)


class Bap:
    """A long-running `bap` command in a session of its own, like a terminal's foreground job."""

    def __init__(self, env: dict[str, str], *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "flows.cli", *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
            preexec_fn=_terminal_signals,  # a CI job run in the background ignores SIGINT: a terminal's does not
        )
        self.lines: list[str] = []
        threading.Thread(target=lambda: self.lines.extend(iter(self.proc.stdout.readline, "")), daemon=True).start()

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_for(self, text: str, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while text not in self.output:
            assert self.proc.poll() is None, f"bap exited early:\n{self.output}"
            assert time.monotonic() < deadline, f"no {text!r} after {timeout_s} s:\n{self.output}"
            time.sleep(0.2)

    def everything_started(self, data_dir: Path) -> list[psutil.Process]:
        """Its process tree, the Prefect server of its state folder and the embedded PostgreSQL, if any."""
        procs = [psutil.Process(self.proc.pid), *psutil.Process(self.proc.pid).children(recursive=True)]
        pid_file = data_dir / "prefect" / "server.pid"
        if pid_file.exists():
            procs.append(psutil.Process(int(pid_file.read_text())))
        return procs + postgres_for(data_dir / "warehouse" / "pgdata")

    def stop(self, sig: signal.Signals, timeout_s: float = 180) -> int:
        os.killpg(self.proc.pid, sig)  # Ctrl-C reaches the terminal's foreground group: bap alone
        try:
            return self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:  # say which step of the shutdown it was in, and what still ran
            tree = [" ".join(p.cmdline()[:6]) for p in psutil.Process(self.proc.pid).children(recursive=True)]
            raise AssertionError(f"not stopped after {timeout_s} s; children {tree}:\n{self.output}") from None
        finally:
            if self.proc.poll() is None:
                self.proc.kill()


def postgres_for(pgdata: Path) -> list[psutil.Process]:
    return [
        proc
        for proc in psutil.process_iter(["name", "cmdline"])
        if proc.info["name"] == "postgres" and str(pgdata.resolve()) in " ".join(proc.info["cmdline"] or [])
    ]


def _env(tmp_path: Path, warehouse_url: str | None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BAP_", "PREFECT_"))}
    env.update(
        BAP_DATA_DIR=str(tmp_path / "data"),
        BAP_LOG_DIR=str(tmp_path / "logs"),
        BAP_TRANSACTIONS_PER_DAY="100",
        BAP_PREFECT_PORT=str(free_port()),
        BAP_DASHBOARD_PORT=str(free_port()),
        PREFECT_HOME=str(tmp_path / "client-home"),
        PREFECT_WORKER_QUERY_SECONDS="1",
    )
    env.update(extra)
    if warehouse_url:
        env["BAP_WAREHOUSE_URL"] = warehouse_url
    return env


def _alive(procs: list[psutil.Process]) -> list[str]:
    left = []
    for proc in procs:
        try:
            if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                left.append(" ".join(proc.cmdline()))
        except psutil.NoSuchProcess:
            pass
    return left


@pytest.mark.prefect_server
@pytest.mark.slow
def test_sigterm_stops_bap_up_and_a_server_it_did_not_start_keeps_running(
    prefect_api: None, tmp_path: Path, warehouse_url: str
) -> None:
    from prefect.settings import PREFECT_API_URL

    api_url = str(PREFECT_API_URL.value())  # the suite's shared server: running before bap up, not its own
    up = Bap(_env(tmp_path, warehouse_url, PREFECT_API_URL=api_url), "up", "--no-dashboard")
    up.wait_for("Press Ctrl-C", timeout_s=180)
    procs = up.everything_started(tmp_path / "data")
    assert len(procs) > 1 and all("create_app" not in " ".join(p.cmdline()) for p in procs)
    assert up.stop(signal.SIGTERM) == 0, up.output
    assert _alive(procs) == []
    assert is_healthy(api_url), "bap up leaves alone a server it found running"
    assert f"Left running the Prefect server at {api_url.removesuffix('/api')}" in up.output


@pytest.mark.prefect_server
@pytest.mark.slow
def test_the_demo_backfills_then_brings_the_stack_up_and_ctrl_c_stops_every_process(
    tmp_path: Path, seed_prefect_home: Callable[[Path], Path]
) -> None:
    """`bap demo` is the backfill, then `bap up` on the Prefect server it started: one test for both (a
    stack costs its processes' start-up), on the embedded warehouse the README's first command uses."""
    env = _env(tmp_path, None, BAP_TRANSACTIONS_PER_DAY="50")
    seed_prefect_home(tmp_path / "data" / "prefect")  # the server's home: its migrations already done
    port, dashboard_port = env["BAP_PREFECT_PORT"], env["BAP_DASHBOARD_PORT"]
    demo = Bap(env, "demo", "--days", "2")
    try:
        started = time.monotonic()
        demo.wait_for("Press Ctrl-C", timeout_s=360)
        up_s = time.monotonic() - started
        assert "Prefect UI" in demo.output and f"http://127.0.0.1:{port}" in demo.output
        assert httpx.get(f"http://127.0.0.1:{port}/", timeout=10, trust_env=False).status_code == 200, "the Prefect UI"
        assert httpx.get(f"http://127.0.0.1:{dashboard_port}/", timeout=30, trust_env=False).status_code == 200
        assert f"http://127.0.0.1:{dashboard_port}/data-docs/" in demo.output
        assert postgres_for(tmp_path / "data" / "warehouse" / "pgdata"), "the demo runs on the embedded warehouse"

        api_url = f"http://127.0.0.1:{port}/api"  # a deployment run goes through the worker bap up started
        run_id = prefect_api.create_run(api_url, "daily", {"run_date": date(2024, 1, 15)})
        run = prefect_api.wait_for_run(api_url, run_id, timeout_s=120, poll_s=0.5)
        assert run.state.is_completed(), (tmp_path / "logs" / "prefect-worker.log").read_text()
        shown = next(line.split()[1] for line in demo.lines if line.startswith("warehouse:"))  # password as ***
        warehouse = make_url(shown).set(password=None)  # the embedded server's own socket, as its owner
        engine = sa.create_engine(warehouse, poolclass=sa.pool.NullPool)
        with engine.connect() as conn:
            loaded = conn.exec_driver_sql("SELECT run_date, rows_loaded FROM load_audit ORDER BY run_date").all()
        engine.dispose()
        assert loaded[0][0] == date(2024, 1, 15) and loaded[0][1] > 0, loaded
        assert len(loaded) == 3, "and the demo's two days"

        procs = demo.everything_started(tmp_path / "data")
        assert any("worker start" in " ".join(p.cmdline()) for p in procs)
        assert any("prefect.server.api.server:create_app" in p.cmdline() for p in procs), "a server it started"
        t0 = time.monotonic()
        assert demo.stop(signal.SIGINT) in (0, 130), demo.output
        stop_s = time.monotonic() - t0
    finally:
        if demo.proc.poll() is None:
            demo.proc.kill()
    assert _alive(procs) == [], f"left running:\n{demo.output}"
    assert not is_healthy(api_url)
    assert "Stopped the local Prefect server" in demo.output and "(this command started it)" in demo.output
    print(f"\nbap demo: up in {up_s:.1f} s (seeded server), stopped in {stop_s:.1f} s")

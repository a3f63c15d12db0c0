"""`bap up`: the whole stack on one machine, in one command, stopped cleanly by Ctrl-C.

    Prefect server   http://127.0.0.1:4200   (the on-demand local server, or PREFECT_API_URL's)
    work pool        bap-process (type process), created if missing
    deployments      `prefect deploy --all` from prefect.yaml
    worker           `prefect worker start --pool bap-process`
    dashboard        ui.app.serve (Gradio + Data Docs at /data-docs/), when the ui package is there

Each service is a child in a session of its own; on Ctrl-C, SIGTERM or SIGHUP `bap up` stops
the worker (and its flow-run processes), then the dashboard, then the server if it started it -
each as a whole process tree - so nothing is left running. A service that dies stops the stack
with the tail of its log. Every child gets the settings `bap up` resolved as BAP_* variables
(relative paths made absolute), so flow runs see the same warehouse and data dir.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import yaml
from pydantic import SecretStr

from flows.errors import BapError
from flows.orchestration.local_server import start_local_server, stop_local_server
from flows.orchestration.processes import is_running, spawn_detached, tail, terminate_tree
from flows.settings import Settings

REPO_DIR = Path(__file__).resolve().parents[2]
PREFECT_FILE = REPO_DIR / "prefect.yaml"


def _stdout(message: str) -> None:
    print(message, flush=True)


def work_pools_of(prefect_file: Path = PREFECT_FILE) -> list[str]:
    """The work pools prefect.yaml's deployments use (all of type process), in order."""
    spec = yaml.safe_load(prefect_file.read_text(encoding="utf-8"))
    names: list[str] = []
    for dep in spec.get("deployments") or []:
        name = (dep.get("work_pool") or {}).get("name")
        if name and name not in names:
            names.append(name)
    return names


def service_env(settings: Settings, api_url: str) -> dict[str, str]:
    """Environment of the worker and dashboard: this process's, plus every resolved setting and the API URL."""
    env = dict(os.environ)
    for name in Settings.model_fields:
        if name == "prefect_api_url":
            continue
        value = getattr(settings, name)
        if value is None:
            continue
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if name in ("data_dir", "log_dir", "state_dir") and value and "://" not in str(value):
            value = str(Path(str(value)).expanduser().resolve())
        env[f"BAP_{name.upper()}"] = str(value)
    env["PREFECT_API_URL"] = api_url
    env.pop("BAP_PREFECT_API_URL", None)
    return env


@dataclass
class Service:
    name: str
    argv: list[str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def exited(self) -> int | None:
        return self.proc.poll() if self.proc else None


@dataclass
class Stack:
    """The running pieces of `bap up`; `stop()` is idempotent and leaves no process behind."""

    settings: Settings
    echo: Callable[[str], None] = _stdout
    repo_dir: Path = REPO_DIR
    api_url: str = ""
    server_pid: int | None = None  # set when this stack started the server
    services: list[Service] = field(default_factory=list)
    urls: dict[str, str] = field(default_factory=dict)

    @property
    def log_dir(self) -> Path:
        return Path(self.settings.log_dir).expanduser().resolve()

    # --- start ----------------------------------------------------------------------------
    def start(self, *, dashboard: bool = True, deploy: bool = True, worker_timeout_s: float = 90.0) -> None:
        from flows.orchestration import prefect_api

        s = self.settings
        if s.prefect_api_url:
            self.api_url = s.prefect_api_url
            self.echo(f"Using the Prefect server at {self.api_url} (PREFECT_API_URL).")
        else:
            server = start_local_server(s, echo=self.echo)
            self.api_url = server.api_url
            self.server_pid = server.pid if server.started else None
            if not server.started:
                self.echo(f"Reusing the Prefect server at {server.ui_url}.")
        self.urls["Prefect UI"] = self.api_url.removesuffix("/api")
        self.urls["Prefect API"] = self.api_url
        env = service_env(s, self.api_url)

        if dashboard:
            self._start_dashboard(env)
        pools = work_pools_of(self.repo_dir / "prefect.yaml")
        for pool in pools:
            if prefect_api.ensure_work_pool(self.api_url, pool):
                self.echo(f"Created the process work pool {pool!r}.")
        if deploy:
            self.deploy(env)
        worker_name = f"bap-{socket.gethostname()}"
        since = datetime.now(UTC)
        for pool in pools:
            argv = [sys.executable, "-m", "prefect", "worker", "start", "--pool", pool, "--type", "process"]
            svc = self._spawn(
                f"worker ({pool})", [*argv, "--name", worker_name], env, self.log_dir / "prefect-worker.log"
            )
            if not prefect_api.wait_for_worker(
                self.api_url,
                pool,
                worker_name,
                since=since,
                timeout_s=worker_timeout_s,
                alive=lambda svc=svc: svc.exited() is None,
            ):
                raise BapError(f"the worker for {pool!r} did not come up; see {svc.log_path}:\n{tail(svc.log_path)}")
            self.urls[f"Work pool {pool}"] = f"worker {worker_name}, log {svc.log_path}"
        for dep in prefect_api.list_deployments(self.api_url):
            self.urls[f"Deployment {dep.full_name}"] = ", ".join(dep.schedules) or "run on demand"
        if dashboard and any(svc.name == "dashboard" for svc in self.services):
            self._wait_for_dashboard()

    def deploy(self, env: dict[str, str]) -> None:
        """`prefect deploy --all` from the repository root, as the README tells a user to run it."""
        log_path = self.log_dir / "prefect-deploy.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self.echo("Registering the deployments of prefect.yaml (prefect deploy --all) ...")
        with open(log_path, "ab") as log:
            done = subprocess.run(
                [sys.executable, "-m", "prefect", "--no-prompt", "deploy", "--all"],
                cwd=self.repo_dir,
                env={**env, "PREFECT_CLI_WRAP_LINES": "false"},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=300,
            )
        if done.returncode != 0:
            raise BapError(f"`prefect deploy --all` failed; see {log_path}:\n{tail(log_path)}")

    def _start_dashboard(self, env: dict[str, str]) -> None:
        if not _dashboard_installed():
            self.echo("The dashboard is not installed (no ui.app); starting without it.")
            return
        s = self.settings
        argv = [sys.executable, "-m", "flows.orchestration.stack", "--serve-dashboard"]
        self._spawn("dashboard", argv, env, self.log_dir / "dashboard-server.log")
        host = "127.0.0.1" if s.dashboard_host in ("0.0.0.0", "::") else s.dashboard_host
        self.urls["Dashboard"] = f"http://{host}:{s.dashboard_port}"
        self.urls["Data Docs"] = f"http://{host}:{s.dashboard_port}/data-docs/"

    def _wait_for_dashboard(self, timeout_s: float = 120.0) -> None:
        svc = next(svc for svc in self.services if svc.name == "dashboard")
        url = self.urls["Dashboard"]
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if svc.exited() is not None:
                raise BapError(f"the dashboard exited (code {svc.exited()}); see {svc.log_path}:\n{tail(svc.log_path)}")
            try:
                if httpx.get(url, timeout=2, trust_env=False).status_code < 500:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise BapError(f"the dashboard did not answer at {url} within {timeout_s:.0f} s; see {svc.log_path}")

    def _spawn(self, name: str, argv: list[str], env: dict[str, str], log_path: Path) -> Service:
        svc = Service(name, argv, log_path)
        svc.proc = spawn_detached(argv, env=env, log_path=log_path, cwd=self.repo_dir)
        self.services.append(svc)
        return svc

    # --- run ------------------------------------------------------------------------------
    def print_urls(self) -> None:
        width = max(len(k) for k in self.urls) + 2
        self.echo("\nbap is up:")
        for key, value in self.urls.items():
            self.echo(f"  {key.ljust(width)}{value}")
        self.echo(f"  {'Logs'.ljust(width)}{self.log_dir}")
        self.echo(f"\nFor the prefect CLI: export PREFECT_API_URL={self.api_url}")
        self.echo("Press Ctrl-C to stop everything.")

    def wait(self, stop: threading.Event | None = None) -> None:
        """Block until stopped (Ctrl-C / SIGTERM / `stop` set); raise if a service dies meanwhile."""
        while stop is None or not stop.is_set():
            for svc in self.services:
                code = svc.exited()
                if code is not None:
                    raise BapError(f"the {svc.name} exited (code {code}); see {svc.log_path}:\n{tail(svc.log_path)}")
            if self.server_pid is not None and not is_running(self.server_pid):
                raise BapError("the Prefect server exited; see its log in the logs folder")
            time.sleep(0.5)

    # --- stop -----------------------------------------------------------------------------
    def stop(self) -> None:
        """Worker first (it reports its runs' states to the server), dashboard, then the server we started."""
        for svc in reversed(self.services):  # started dashboard, then worker(s)
            if svc.proc is not None:
                terminate_tree(svc.proc.pid, timeout_s=10)
                svc.proc.wait()
        if self.services:
            self.echo("Stopped " + ", ".join(svc.name for svc in reversed(self.services)) + ".")
        self.services.clear()
        if self.server_pid is not None:
            stop_local_server(self.settings, echo=self.echo)
            self.server_pid = None


def up(
    settings: Settings,
    *,
    dashboard: bool = True,
    backfill_days: int = 0,
    echo: Callable[[str], None] = _stdout,
    stop: threading.Event | None = None,
) -> int:
    """Bring the stack up, print the URLs, run until Ctrl-C/SIGTERM/SIGHUP (or `stop`), then stop it all."""
    stack = Stack(settings, echo=echo)
    restore = _stop_on_signals()
    try:
        stack.start(dashboard=dashboard)
        if backfill_days > 0:
            _start_backfill(stack, backfill_days)
        stack.print_urls()
        stack.wait(stop)
        return 0
    except KeyboardInterrupt:
        echo("\nStopping ...")
        return 0
    finally:
        _ignore_signals()  # a second Ctrl-C must not cut the shutdown short and orphan a child
        try:
            stack.stop()
        finally:
            restore()


def _start_backfill(stack: Stack, days: int) -> None:
    from flows.orchestration import prefect_api
    from flows.steps import yesterday_utc

    end = yesterday_utc()
    start = end - timedelta(days=days - 1)
    run_id = prefect_api.create_run(stack.api_url, "backfill", {"start": start, "end": end})
    stack.urls["Backfill"] = f"{start}..{end}: {stack.urls['Prefect UI']}/runs/flow-run/{run_id}"


_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _stop_on_signals() -> Callable[[], None]:
    """SIGTERM and SIGHUP stop the stack like Ctrl-C does (main thread only); returns the undo."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, interrupt) for sig in _STOP_SIGNALS}

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    return restore


def _ignore_signals() -> None:
    if threading.current_thread() is threading.main_thread():
        for sig in _STOP_SIGNALS:
            signal.signal(sig, signal.SIG_IGN)


def _dashboard_installed() -> bool:
    try:
        return importlib.util.find_spec("ui.app") is not None
    except ModuleNotFoundError:  # no ui package at all
        return False


def serve_dashboard(settings: Settings) -> None:
    """The dashboard child of `bap up` (ui.app.serve, blocking; uvicorn stops on SIGTERM)."""
    from ui.app import serve

    serve(settings, block=True)


if __name__ == "__main__":  # python -m flows.orchestration.stack [--no-dashboard] [--backfill-days N]
    import argparse

    from flows.settings import get_settings

    parser = argparse.ArgumentParser(prog="python -m flows.orchestration.stack", description=__doc__.splitlines()[0])
    parser.add_argument("--no-dashboard", action="store_true", help="Bring up everything but the dashboard.")
    parser.add_argument("--backfill-days", type=int, default=0, help="Also start a backfill of the last N days.")
    parser.add_argument("--serve-dashboard", action="store_true", help=argparse.SUPPRESS)  # the dashboard child
    args = parser.parse_args()
    try:
        if args.serve_dashboard:
            serve_dashboard(get_settings())
            sys.exit(0)
        sys.exit(up(get_settings(), dashboard=not args.no_dashboard, backfill_days=args.backfill_days))
    except BapError as exc:
        print(f"bap: error: {exc}", file=sys.stderr)
        sys.exit(1)

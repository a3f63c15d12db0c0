"""The on-demand local Prefect server: started by the first `bap` command that needs it, then reused.

Why: a Prefect 3 process without PREFECT_API_URL starts a temporary server of its own on every
run (about 8 s here, 14 s on a fresh PREFECT_HOME), while a flow run against a running server
costs about 1 s. So, like the embedded warehouse, one server is started on demand and shared:

- If a healthy server answers on 127.0.0.1:BAP_PREFECT_PORT (GET /api/health), it is reused -
  whoever started it (a previous `bap` command, `bap up`, or the user's own `prefect server start`).
- Otherwise `prefect server start` is launched detached (own session, outlives the command),
  logs to <log_dir>/prefect-server.log, pid in <state>/prefect/server.pid. A file lock makes
  two concurrent `bap` commands start one server, not two.
- `bap server stop` stops it; nothing else does (keeping it warm is the point).

Where its state lives: the *server* gets PREFECT_HOME=<state>/prefect, so its SQLite database
sits next to the embedded warehouse (machine-local state, removed with the data folder) and
test runs with their own data folder never touch ~/.prefect. The *clients* (`bap`, workers, flow
runs) keep the user's PREFECT_HOME and only receive PREFECT_API_URL: their profile (and a
Prefect Cloud login) stays theirs.

This module imports neither Prefect nor the pipeline: the CLI calls it and exports
PREFECT_API_URL *before* `import prefect`, which reads its settings at import time.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from flows.errors import BapError
from flows.orchestration.processes import is_running, spawn_detached, tail, terminate_tree
from flows.settings import Settings

HOST = "127.0.0.1"
COLD_START_HINT_S = 15  # first start on a fresh PREFECT_HOME (database migrations); later ones ~3 s


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class LocalServer:
    api_url: str
    pid: int | None  # None when a server bap did not start answers on the port
    started: bool  # True when this call started it
    home: Path
    log_path: Path

    @property
    def ui_url(self) -> str:
        return self.api_url.removesuffix("/api")


def server_home(settings: Settings) -> Path:
    """PREFECT_HOME of the local server: its SQLite database, pid file and lock."""
    return settings.local_state_dir / "prefect"


def local_api_url(settings: Settings) -> str:
    return f"http://{HOST}:{settings.prefect_port}/api"


def server_log_path(settings: Settings) -> Path:
    return Path(settings.log_dir).expanduser().resolve() / "prefect-server.log"


def is_healthy(api_url: str, *, timeout_s: float = 2.0) -> bool:
    """True when a Prefect server answers GET <api>/health with `true`."""
    try:
        response = httpx.get(f"{api_url.rstrip('/')}/health", timeout=timeout_s, trust_env=False)
        return response.status_code == 200 and response.json() is True
    except (httpx.HTTPError, ValueError):
        return False


def ensure_local_server(settings: Settings, *, timeout_s: float = 120.0, echo: Callable[[str], None] = _stderr) -> str:
    """API URL of a healthy local Prefect server, started (detached) if none answers. Safe to call concurrently."""
    return start_local_server(settings, timeout_s=timeout_s, echo=echo).api_url


def start_local_server(
    settings: Settings, *, timeout_s: float = 120.0, echo: Callable[[str], None] = _stderr
) -> LocalServer:
    """Like ensure_local_server, saying whether this call started the server (so `bap up` can stop it)."""
    home = server_home(settings)
    api_url = local_api_url(settings)
    log_path = server_log_path(settings)
    if is_healthy(api_url):  # the everyday path: no lock, one HTTP request
        return LocalServer(api_url, _recorded_pid(home, settings.prefect_port), False, home, log_path)

    from filelock import FileLock, Timeout

    home.mkdir(parents=True, exist_ok=True)
    try:
        with FileLock(str(home / "server.lock"), timeout=timeout_s + 30):
            if is_healthy(api_url):  # another bap command started it while we waited for the lock
                return LocalServer(api_url, _recorded_pid(home, settings.prefect_port), False, home, log_path)
            pid = _recorded_pid(home, settings.prefect_port)
            if pid is not None:  # started by a command that crashed before it was healthy
                _wait_until_healthy(api_url, pid, log_path, timeout_s, echo)
                return LocalServer(api_url, pid, False, home, log_path)
            if _port_taken(settings.prefect_port):
                raise BapError(
                    f"port {settings.prefect_port} on {HOST} is in use by something that is not a healthy "
                    "Prefect server; stop it, or set BAP_PREFECT_PORT to a free port"
                )
            pid = _spawn(settings, home, log_path)
            echo(
                f"Starting the local Prefect server at {api_url.removesuffix('/api')} "
                f"(first start takes about {COLD_START_HINT_S} s; log: {log_path}) ..."
            )
            started = time.monotonic()
            try:
                _wait_until_healthy(api_url, pid, log_path, timeout_s, echo)
            except BaseException:
                terminate_tree(pid)
                _pid_file(home).unlink(missing_ok=True)
                raise
            echo(f"Prefect server ready in {time.monotonic() - started:.1f} s.")
            return LocalServer(api_url, pid, True, home, log_path)
    except Timeout:
        raise BapError(
            f"timed out waiting for another bap command to start the Prefect server; see {log_path}"
        ) from None


def stop_local_server(settings: Settings, *, echo: Callable[[str], None] = _stderr) -> bool:
    """Stop the local server bap started (the one in the pid file); True if one was stopped."""
    home = server_home(settings)
    pid = _recorded_pid(home, settings.prefect_port)
    _pid_file(home).unlink(missing_ok=True)
    if pid is None:
        if is_healthy(local_api_url(settings)):
            echo(f"A Prefect server answers on port {settings.prefect_port} but bap did not start it; left running.")
        else:
            echo("No local Prefect server is running.")
        return False
    terminate_tree(pid, timeout_s=15)
    echo(f"Stopped the local Prefect server (pid {pid}).")
    return True


# --- internals --------------------------------------------------------------------------------


def _pid_file(home: Path) -> Path:
    return home / "server.pid"


def _recorded_pid(home: Path, port: int) -> int | None:
    """Pid of the server bap started for this home and port, if it is still that process."""
    try:
        record = json.loads(_pid_file(home).read_text(encoding="utf-8"))
        pid, recorded_port = int(record["pid"]), int(record["port"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if recorded_port != port or not is_running(pid) or not _looks_like_prefect_server(pid):
        return None  # stale: the process is gone or the pid was reused
    return pid


def _looks_like_prefect_server(pid: int) -> bool:
    import psutil

    try:
        cmdline = " ".join(psutil.Process(pid).cmdline())
    except psutil.Error:
        return False
    return "prefect" in cmdline and "server" in cmdline and "start" in cmdline


def _port_taken(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((HOST, port)) == 0


def server_env(home: Path) -> dict[str, str]:
    """Environment of the server process: its own PREFECT_HOME, no client settings, no telemetry."""
    env = {k: v for k, v in os.environ.items() if k not in ("PREFECT_API_URL", "PREFECT_API_KEY", "PREFECT_PROFILE")}
    env["PREFECT_HOME"] = str(home)
    env["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"  # offline machines log an error per attempt otherwise
    env.setdefault("PREFECT_SERVER_UI_SHOW_PROMOTIONAL_CONTENT", "false")
    return env


def _spawn(settings: Settings, home: Path, log_path: Path) -> int:
    argv = [sys.executable, "-m", "prefect", "server", "start", "--host", HOST, "--port", str(settings.prefect_port)]
    proc = spawn_detached(argv, env=server_env(home), log_path=log_path, cwd=home)
    tmp = _pid_file(home).with_suffix(".tmp")
    tmp.write_text(
        json.dumps({"pid": proc.pid, "port": settings.prefect_port, "started": time.time()}), encoding="utf-8"
    )
    tmp.replace(_pid_file(home))
    return proc.pid


def _wait_until_healthy(api_url: str, pid: int, log_path: Path, timeout_s: float, echo: Callable[[str], None]) -> None:
    deadline = time.monotonic() + timeout_s
    next_note = time.monotonic() + 5
    while not is_healthy(api_url, timeout_s=1.0):
        if not is_running(pid):
            raise BapError(
                f"the local Prefect server exited before it was ready; see {log_path}:\n{tail(log_path, 15)}"
            )
        now = time.monotonic()
        if now > deadline:
            raise BapError(f"the local Prefect server did not become healthy within {timeout_s:.0f} s; see {log_path}")
        if now > next_note:
            echo(f"  ... still starting ({timeout_s - (deadline - now):.0f} s)")
            next_note = now + 5
        time.sleep(0.25)

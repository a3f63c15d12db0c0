"""The local Prefect server, run by Prefect's own `prefect server start --background` and `prefect server stop`.

Prefect keys a background server on PREFECT_HOME (its `server.pid`); bap gives the server
PREFECT_HOME=<state>/prefect, so the server and its SQLite database belong to the state folder.
The first `bap` command that needs it starts it; later ones find it with one GET /api/health
(`prefect server status` would add two seconds of Prefect import to every command). A server on
the port that is not this folder's is never used silently. Clients keep the user's PREFECT_HOME
and only receive PREFECT_API_URL. No Prefect import here: the CLI sets PREFECT_API_URL first.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psutil

from flows.errors import BapError
from flows.settings import Settings

_HELD: set[str] = set()  # API URLs a `local_server` of this process is serving


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def server_home(settings: Settings) -> Path:
    return settings.local_state_dir / "prefect"


def local_api_url(settings: Settings) -> str:
    return f"http://127.0.0.1:{settings.prefect_port}/api"


def is_healthy(api_url: str, *, timeout_s: float = 2.0) -> bool:
    """True when a Prefect server answers GET <api>/health with `true`."""
    try:
        response = httpx.get(f"{api_url.rstrip('/')}/health", timeout=timeout_s, trust_env=False)
        return response.status_code == 200 and response.json() is True
    except (httpx.HTTPError, ValueError):
        return False


def server_process(settings: Settings) -> psutil.Process | None:
    """This state folder's background server (Prefect's server.pid), if that pid still runs a Prefect server."""
    try:
        proc = psutil.Process(int((server_home(settings) / "server.pid").read_text()))
        return proc if "prefect.server.api.server:create_app" in proc.cmdline() else None
    except (OSError, ValueError, psutil.Error):
        return None


def prefect_server(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    """`prefect server <args>` with the server's PREFECT_HOME, in a session of its own (a Ctrl-C spares it)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PREFECT_API_URL", "PREFECT_API_KEY", "PREFECT_PROFILE")}
    env.update(PREFECT_HOME=str(server_home(settings)), PREFECT_SERVER_ANALYTICS_ENABLED="false")
    env.update(PREFECT_CLI_WRAP_LINES="false", PREFECT_SERVER_UI_SHOW_PROMOTIONAL_CONTENT="false")
    # `start --background` gives the server stdout/stderr pipes that nobody reads once this CLI call
    # has exited: a server writing there can die of the broken pipe. Its console log stays quiet
    # (uvicorn reads UVICORN_* options from the environment; Prefect its logging level).
    env.update(UVICORN_ACCESS_LOG="false", UVICORN_LOG_LEVEL="critical", PREFECT_SERVER_LOGGING_LEVEL="CRITICAL")
    argv = [sys.executable, "-m", "prefect", "server", *args]
    return subprocess.run(argv, env=env, capture_output=True, text=True, start_new_session=True, timeout=120)


def ensure_local_server(settings: Settings, *, timeout_s: float = 120.0, echo: Callable[[str], None] = _stderr) -> bool:
    """Make this state folder's server answer on BAP_PREFECT_PORT; True if this call started it."""
    url, port, own = local_api_url(settings), str(settings.prefect_port), server_process(settings)
    if own is not None and port not in own.cmdline():
        raise BapError("this state folder's Prefect server runs on another port: `bap server stop`, then retry")
    if is_healthy(url):
        if own is None:
            raise BapError(
                f"the Prefect server on port {port} is not this state folder's: set PREFECT_API_URL={url} to "
                "report to it, or BAP_PREFECT_PORT to a free port to start this folder's own"
            )
        return False
    from filelock import FileLock

    server_home(settings).mkdir(parents=True, exist_ok=True)
    with FileLock(str(server_home(settings) / "server.lock"), timeout=timeout_s + 30):  # two commands, one server
        started = not is_healthy(url) and server_process(settings) is None
        try:  # Ctrl-C included: a server half started is not left behind
            if started:
                (server_home(settings) / "server.pid").unlink(missing_ok=True)  # stale: Prefect would refuse
                done = prefect_server(settings, "start", "--background", "--host", "127.0.0.1", "--port", port)
                if done.returncode != 0:
                    reason = (done.stdout + done.stderr).strip().splitlines()[-1]
                    raise BapError(f"`prefect server start` failed: {reason} (bap's port is BAP_PREFECT_PORT)")
                echo(f"Starting the local Prefect server at {url.removesuffix('/api')} (first start takes ~15 s) ...")
            _wait_until_healthy(settings, timeout_s)
        except BaseException:
            stop_local_server(settings, echo=lambda _: None)
            raise
    return started


def _wait_until_healthy(settings: Settings, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not is_healthy(local_api_url(settings), timeout_s=1.0):
        if server_process(settings) is None or time.monotonic() > deadline:
            raise BapError(
                f"the local Prefect server did not come up; `PREFECT_HOME={server_home(settings)} prefect server "
                f"start --port {settings.prefect_port}` shows why"
            )
        time.sleep(0.25)


def stop_local_server(settings: Settings, *, echo: Callable[[str], None] = _stderr, note: str = "") -> bool:
    """`prefect server stop` for this state folder's server, then wait until it has exited; True if it ran."""
    proc = server_process(settings)
    if proc is None:
        (server_home(settings) / "server.pid").unlink(missing_ok=True)
        echo("No Prefect server of this state folder is running.")
        return False
    prefect_server(settings, "stop")
    for left in psutil.wait_procs([proc], timeout=15)[1]:
        left.kill()
    echo(f"Stopped the local Prefect server at {local_api_url(settings).removesuffix('/api')}{note}.")
    return True


@contextmanager
def local_server(settings: Settings, *, echo: Callable[[str], None] = _stderr) -> Iterator[str]:
    """The API URL for a long-running command: PREFECT_API_URL's, or the local server, which is stopped at
    the end if this command started it, and left running (saying so) if it was running before."""
    url = settings.prefect_api_url or local_api_url(settings)
    if url in _HELD:  # an outer `local_server` of this process (`bap demo` around `up`) owns it
        yield url
        return
    started = not settings.prefect_api_url and ensure_local_server(settings, echo=echo)
    _HELD.add(url)
    try:
        yield url
    finally:
        _HELD.discard(url)
        with signals_ignored():
            if started:
                stop_local_server(settings, echo=echo, note=" (this command started it)")
        if not started:
            echo(f"Left running the Prefect server at {url.removesuffix('/api')}: it was running before this command.")


@contextmanager
def signals_ignored() -> Iterator[None]:
    """Ctrl-C, SIGTERM and SIGHUP ignored meanwhile: a second Ctrl-C must not cut a shutdown short."""
    main = threading.current_thread() is threading.main_thread()
    sigs = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP) if main else ()
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in sigs}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

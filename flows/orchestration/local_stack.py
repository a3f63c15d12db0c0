"""The local stack: this state folder's Prefect server, by Prefect's own `prefect server start --background`
and `stop` (PREFECT_HOME=<state>/prefect: a server on the port that is not this folder's is never used
silently; found by one GET /api/health, not `prefect server status` and its two seconds of imports), and
`bap up` on it: a worker per work pool, in a session of its own, and the dashboard. A Ctrl-C reaches `bap`
alone, which stops the worker's process tree, the dashboard, then the server if it started it. No
supervisor library: supervisord and circus add a daemon and a config file, honcho a Procfile.
"""

from __future__ import annotations

import functools
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager, suppress
from datetime import UTC, date, datetime
from pathlib import Path
from subprocess import DEVNULL

import httpx
import psutil

from flows.errors import BapError
from flows.logs import tail
from flows.orchestration.prefect_api import REPO_DIR, create_run, deploy_project, list_deployments, wait_for_worker
from flows.settings import Settings


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

    (home := server_home(settings)).mkdir(parents=True, exist_ok=True)
    with FileLock(str(home / "server.lock"), timeout=timeout_s + 30):  # two commands, one server
        started, deadline = not is_healthy(url) and server_process(settings) is None, time.monotonic() + timeout_s
        try:  # Ctrl-C included: a server half started is not left behind
            if started:
                (home / "server.pid").unlink(missing_ok=True)  # stale: Prefect would refuse to start
                done = prefect_server(settings, "start", "--background", "--host", "127.0.0.1", "--port", port)
                if done.returncode != 0:
                    reason = (done.stdout + done.stderr).strip().splitlines()[-1]
                    raise BapError(f"`prefect server start` failed: {reason} (bap's port is BAP_PREFECT_PORT)")
                echo(f"Starting the local Prefect server at {url.removesuffix('/api')} (first start takes ~15 s) ...")
            while not is_healthy(url, timeout_s=1.0):
                if server_process(settings) is None or time.monotonic() > deadline:
                    raise BapError(
                        f"the local Prefect server did not come up; `PREFECT_HOME={home} prefect server start "
                        f"--port {port}` shows why"
                    )
                time.sleep(0.25)
        except BaseException:
            stop_local_server(settings, echo=lambda _: None)
            raise
    return started


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
    started = not settings.prefect_api_url and ensure_local_server(settings, echo=echo)
    try:
        yield url
    finally:
        if started:
            with signals_ignored():
                stop_local_server(settings, echo=echo, note=" (this command started it)")
        else:
            echo(f"Left running the Prefect server at {url.removesuffix('/api')}: it was running before this command.")


@contextmanager
def signals_ignored() -> Iterator[None]:
    """Ctrl-C, SIGTERM, SIGHUP ignored while stopping, then restored (children would inherit an ignored SIGINT)."""
    main = threading.current_thread() is threading.main_thread()
    previous = {s: signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP) if main}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def stop_workers(workers: list[psutil.Popen], echo: Callable[[str], None] = print, timeout_s: float = 10.0) -> None:
    """SIGTERM the workers still running and all their descendants (their flow runs); SIGKILL what outlives
    `timeout_s`. One that has exited is not signalled (its pid may be reused); wait_procs reaps the rest."""
    procs = [p for worker in workers if worker.poll() is None for p in (worker, *worker.children(recursive=True))]
    for proc in procs:
        with suppress(psutil.NoSuchProcess):
            proc.terminate()
    for proc in psutil.wait_procs(procs, timeout=timeout_s)[1]:
        with suppress(psutil.NoSuchProcess):
            proc.kill()
    if workers:
        echo("Stopped the worker and its flow runs.")


def up(
    settings: Settings,
    api_url: str,
    dashboard: Callable[[], AbstractContextManager[str]] | None = None,
    backfill: tuple[date, date] | None = None,
    echo: Callable[[str], None] = print,
) -> None:
    """prefect.yaml deployed on `api_url`, a worker on each of its pools, the dashboard (`dashboard` serves it
    and yields its URL), until Ctrl-C or SIGTERM; then everything it started is stopped."""
    logs, ui = Path(settings.log_dir).expanduser().resolve(), api_url.removesuffix("/api")
    urls, workers = {"Prefect UI": ui, "Prefect API": api_url, "Logs": str(logs)}, list[psutil.Popen]()
    env, log, name = settings.child_env(api_url), logs / "prefect-worker.log", f"bap-{socket.gethostname()}"
    started = ExitStack()
    try:
        if dashboard is not None:
            urls["Dashboard"] = started.enter_context(dashboard())
            urls["Data Docs"] = urls["Dashboard"] + "/data-docs/"
        out = started.enter_context(open(log, "ab"))  # the workers' log
        spawn = functools.partial(psutil.Popen, env=env, cwd=REPO_DIR, stdin=DEVNULL, stdout=out, stderr=out)
        started.callback(stop_workers, workers, echo)  # first out: the worker reports its runs to the server
        cmd = [sys.executable, "-m", "prefect", "worker", "start", "--type", "process", "--name", name, "--pool"]
        since = datetime.now(UTC)
        for pool in deploy_project(api_url, env, logs / "prefect-deploy.log", echo):
            # in a session of its own: a Ctrl-C reaches bap alone, which stops the worker with its flow runs
            workers.append(spawn([*cmd, pool], start_new_session=True))
            if not wait_for_worker(api_url, pool, name, since=since, alive=lambda: workers[-1].poll() is None):
                raise BapError(f"the worker for {pool!r} did not come up; see {log}:\n{tail(log)}")
            urls[f"Work pool {pool}"] = f"worker {name}, log {log}"
        for dep in list_deployments(api_url):
            urls[f"Deployment {dep.full_name}"] = ", ".join(dep.schedules) or "run on demand"
        if backfill is not None:
            run_id = create_run(api_url, "backfill", {"start": backfill[0], "end": backfill[1]})
            urls["Backfill"] = f"{backfill[0]}..{backfill[1]}: {ui}/runs/flow-run/{run_id}"
        width = max(map(len, urls)) + 2
        echo("\nbap is up:\n" + "\n".join(f"  {key.ljust(width)}{value}" for key, value in urls.items()))
        echo(f"\nFor the prefect CLI: export PREFECT_API_URL={api_url}\nPress Ctrl-C to stop everything.")
        while all(worker.poll() is None for worker in workers):
            time.sleep(0.5)
        raise BapError(f"the worker exited; see {log}:\n{tail(log)}")
    except KeyboardInterrupt:
        echo("\nStopping ...")
    finally:
        with signals_ignored():
            started.close()

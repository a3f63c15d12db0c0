"""`bap up`: the local Prefect server, work pool, `prefect deploy --all`, a worker and the dashboard.

The worker is a child in a session of its own, so a Ctrl-C reaches `bap` alone, which stops it
as a whole process tree (with its flow runs), then the dashboard it serves in-process, then the
server if it started it. One child does not call for a supervisor library (supervisord, circus
and honcho add a daemon or a config file); Popen and psutil do it in a few lines.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil
import yaml
from pydantic import SecretStr

from flows.errors import BapError
from flows.orchestration.local_server import local_server, signals_ignored
from flows.settings import Settings

REPO_DIR = Path(__file__).resolve().parents[2]


def work_pools_of(prefect_file: Path = REPO_DIR / "prefect.yaml") -> list[str]:
    """The work pools of prefect.yaml's deployments (all of type process), in order."""
    deployments = yaml.safe_load(prefect_file.read_text(encoding="utf-8")).get("deployments") or []
    return list(dict.fromkeys(d["work_pool"]["name"] for d in deployments if (d.get("work_pool") or {}).get("name")))


def service_env(settings: Settings, api_url: str) -> dict[str, str]:
    """A child's environment: this one, every resolved setting as BAP_* (local paths absolute), the API URL."""
    env = {k: v for k, v in os.environ.items() if k != "BAP_PREFECT_API_URL"}
    for name, value in settings.model_dump(exclude={"prefect_api_url"}, exclude_none=True).items():
        text = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
        local = name in ("data_dir", "log_dir", "state_dir") and text and "://" not in text
        env[f"BAP_{name.upper()}"] = str(Path(text).expanduser().resolve()) if local else text
    return {**env, "PREFECT_API_URL": api_url}


def tail(path: Path, lines: int = 20) -> str:
    """The last lines of a log ('' when there is none), to show why a child failed."""
    text = path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""
    return "\n".join(text.rstrip().splitlines()[-lines:])


def spawn(argv: list[str], env: dict[str, str], log: Path, cwd: Path = REPO_DIR) -> subprocess.Popen[bytes]:
    """`argv` in a session of its own, its output appended to `log`."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        return subprocess.Popen(
            argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True
        )


def terminate_tree(pid: int, timeout_s: float = 10.0) -> None:
    """SIGTERM the process and all its descendants; SIGKILL what outlives `timeout_s`."""
    try:
        procs = [root := psutil.Process(pid), *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return
    for proc in procs:
        try:
            proc.terminate()
        except psutil.NoSuchProcess:
            pass
    for proc in psutil.wait_procs(procs, timeout=timeout_s)[1]:
        proc.kill()


def up(
    settings: Settings,
    dashboard: Callable[[], AbstractContextManager[str]] | None = None,
    backfill_days: int = 0,
    echo: Callable[[str], None] = print,
) -> None:
    """Bring the stack up (`dashboard` serves it and yields its URL), run until Ctrl-C or SIGTERM, stop it all."""
    logs = Path(settings.log_dir).expanduser().resolve()
    with local_server(settings, echo=echo) as api_url, ExitStack() as started:
        urls = {"Prefect UI": api_url.removesuffix("/api"), "Prefect API": api_url, "Logs": str(logs)}
        workers: list[subprocess.Popen[bytes]] = []
        try:
            if dashboard is not None:
                urls["Dashboard"] = started.enter_context(dashboard())
                urls["Data Docs"] = urls["Dashboard"] + "/data-docs/"
            started.callback(_stop, workers, echo)  # first out: the worker reports its runs to the server
            urls.update(_start_workers(settings, api_url, workers, logs, echo))
            if backfill_days > 0:
                urls["Backfill"] = _start_backfill(api_url, backfill_days)
            width = max(map(len, urls)) + 2
            echo("\nbap is up:\n" + "\n".join(f"  {key.ljust(width)}{value}" for key, value in urls.items()))
            echo(f"\nFor the prefect CLI: export PREFECT_API_URL={api_url}\nPress Ctrl-C to stop everything.")
            while all(worker.poll() is None for worker in workers):
                time.sleep(0.5)
            raise BapError(
                f"the worker exited; see {logs / 'prefect-worker.log'}:\n{tail(logs / 'prefect-worker.log')}"
            )
        except KeyboardInterrupt:
            echo("\nStopping ...")
        finally:
            with signals_ignored():
                started.close()


def _stop(workers: list[subprocess.Popen[bytes]], echo: Callable[[str], None]) -> None:
    for worker in workers:
        if worker.poll() is None:  # never signal a pid that may have been reused
            terminate_tree(worker.pid)
        worker.wait()
    if workers:
        echo("Stopped the worker and its flow runs.")


def _start_workers(
    settings: Settings, api_url: str, workers: list[subprocess.Popen[bytes]], logs: Path, echo: Callable[[str], None]
) -> dict[str, str]:
    """The work pools, the deployments of prefect.yaml, and a worker on each pool; where they are."""
    from flows.orchestration import prefect_api

    env, pools = service_env(settings, api_url), work_pools_of()
    urls: dict[str, str] = {}
    for pool in pools:
        if prefect_api.ensure_work_pool(api_url, pool):
            echo(f"Created the process work pool {pool!r}.")
    echo("Registering the deployments of prefect.yaml (prefect deploy --all) ...")
    deploy = [sys.executable, "-m", "prefect", "--no-prompt", "deploy", "--all"]
    with open(logs / "prefect-deploy.log", "ab") as out:  # run() kills it if Ctrl-C comes meanwhile
        done = subprocess.run(
            deploy, env={**env, "PREFECT_CLI_WRAP_LINES": "false"}, cwd=REPO_DIR, stdout=out, stderr=out
        )
    if done.returncode != 0:
        raise BapError(
            f"`prefect deploy --all` failed; see {logs}/prefect-deploy.log:\n{tail(logs / 'prefect-deploy.log')}"
        )
    name, since, log = f"bap-{socket.gethostname()}", datetime.now(UTC), logs / "prefect-worker.log"
    for pool in pools:
        argv = [sys.executable, "-m", "prefect", "worker", "start", "--type", "process", "--pool", pool, "--name", name]
        workers.append(worker := spawn(argv, env, log))
        if not prefect_api.wait_for_worker(
            api_url, pool, name, since=since, timeout_s=90, alive=lambda: worker.poll() is None
        ):
            raise BapError(f"the worker for {pool!r} did not come up; see {log}:\n{tail(log)}")
        urls[f"Work pool {pool}"] = f"worker {name}, log {log}"
    for dep in prefect_api.list_deployments(api_url):
        urls[f"Deployment {dep.full_name}"] = ", ".join(dep.schedules) or "run on demand"
    return urls


def _start_backfill(api_url: str, days: int) -> str:
    from flows.orchestration import prefect_api
    from flows.steps import yesterday_utc

    start, end = yesterday_utc() - timedelta(days=days - 1), yesterday_utc()
    run_id = prefect_api.create_run(api_url, "backfill", {"start": start, "end": end})
    return f"{start}..{end}: {api_url.removesuffix('/api')}/runs/flow-run/{run_id}"

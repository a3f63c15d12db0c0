"""The few Prefect API calls `bap up`, `bap gaps --backfill` and the tests make, on an explicit API URL,
and prefect.yaml's deployments registered there.

Each call opens Prefect's own client under `temporary_settings(PREFECT_API_URL=...)`, so it talks
to the server it is given whatever the process environment said when Prefect was imported.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import UUID

import yaml

from flows.errors import BapError
from flows.logs import tail

if TYPE_CHECKING:
    from prefect.client.orchestration import SyncPrefectClient
    from prefect.client.schemas.objects import FlowRun

REPO_DIR = Path(__file__).resolve().parents[2]  # where prefect.yaml is, and `prefect deploy` runs


@contextmanager
def client_for(api_url: str) -> Iterator[SyncPrefectClient]:
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: api_url}):
        with get_client(sync_client=True) as client:
            yield client


def ensure_work_pool(api_url: str, name: str) -> bool:
    """Create the process work pool with its default job template unless it exists; True if created."""
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound
    from prefect.workers.process import ProcessWorker

    with client_for(api_url) as client:
        try:
            client.read_work_pool(name)
            return False
        except ObjectNotFound:
            pass
        template = ProcessWorker.get_default_base_job_template()
        try:
            client.create_work_pool(WorkPoolCreate(name=name, type=ProcessWorker.type, base_job_template=template))
        except ObjectAlreadyExists:  # created concurrently
            return False
        return True


def work_pools_of(prefect_file: Path = REPO_DIR / "prefect.yaml") -> list[str]:
    """The work pools of prefect.yaml's deployments (all of type process), in order."""
    deployments = yaml.safe_load(prefect_file.read_text(encoding="utf-8")).get("deployments") or []
    return list(dict.fromkeys(d["work_pool"]["name"] for d in deployments if (d.get("work_pool") or {}).get("name")))


def deploy_project(api_url: str, env: dict[str, str], log: Path, echo: Callable[[str], None]) -> list[str]:
    """prefect.yaml's work pools created on `api_url` where missing, then `prefect deploy --all`; the pools."""
    pools = work_pools_of()
    for pool in pools:
        if ensure_work_pool(api_url, pool):
            echo(f"Created the process work pool {pool!r}.")
    echo("Registering the deployments of prefect.yaml (prefect deploy --all) ...")
    deploy = [sys.executable, "-m", "prefect", "--no-prompt", "deploy", "--all"]
    with open(log, "ab") as out:  # run() kills it if Ctrl-C comes meanwhile
        done = subprocess.run(
            deploy, env={**env, "PREFECT_CLI_WRAP_LINES": "false"}, cwd=REPO_DIR, stdout=out, stderr=out
        )
    if done.returncode != 0:
        raise BapError(f"`prefect deploy --all` failed; see {log}:\n{tail(log)}")
    return pools


@dataclass(frozen=True)
class DeploymentInfo:
    id: UUID
    full_name: str  # "<flow name>/<deployment name>", what `prefect deployment run` takes
    name: str
    work_pool: str | None
    schedules: list[str]  # human-readable: "cron 0 2 * * * (UTC)"


def list_deployments(api_url: str) -> list[DeploymentInfo]:
    with client_for(api_url) as client:
        found = client.read_deployments()
        flows = {flow.id: flow.name for flow in client.read_flows()}
    infos = []
    for dep in sorted(found, key=lambda d: d.name):
        schedules = []
        for item in dep.schedules or []:
            sched = item.schedule
            text = getattr(sched, "cron", None) or getattr(sched, "interval", None) or getattr(sched, "rrule", None)
            tz = getattr(sched, "timezone", None)
            schedules.append(
                f"{type(sched).__name__.removesuffix('Schedule').lower()} {text}" + (f" ({tz})" if tz else "")
            )
        infos.append(
            DeploymentInfo(dep.id, f"{flows.get(dep.flow_id, '?')}/{dep.name}", dep.name, dep.work_pool_name, schedules)
        )
    return infos


def find_deployment(api_url: str, name: str) -> DeploymentInfo:
    """A deployment by its name ('backfill') or full name ('backfill-pipeline/backfill')."""
    matches = [d for d in list_deployments(api_url) if name in (d.name, d.full_name)]
    if len(matches) != 1:
        known = ", ".join(d.full_name for d in list_deployments(api_url)) or "none"
        raise BapError(
            f"no single deployment named {name!r} on {api_url} (deployed: {known}); run `prefect deploy --all`"
        )
    return matches[0]


def create_run(api_url: str, deployment: str, parameters: dict[str, Any], *, name: str | None = None) -> UUID:
    """Schedule a run of a deployment now; a worker on its pool picks it up. Returns the flow run id."""
    dep = find_deployment(api_url, deployment)
    with client_for(api_url) as client:
        run = client.create_flow_run_from_deployment(dep.id, parameters=jsonable(parameters), name=name)
    return run.id


def wait_for_run(api_url: str, flow_run_id: UUID, *, timeout_s: float = 300.0, poll_s: float = 1.0) -> FlowRun:
    """Poll until the flow run reaches a final state (or raise TimeoutError); returns the flow run."""
    deadline = time.monotonic() + timeout_s
    with client_for(api_url) as client:
        while True:
            run = client.read_flow_run(flow_run_id)
            if run.state is not None and run.state.is_final():
                return run
            if time.monotonic() > deadline:
                state = run.state.name if run.state else "no state"
                raise TimeoutError(f"flow run {flow_run_id} still {state} after {timeout_s:.0f} s")
            time.sleep(poll_s)


def wait_for_worker(
    api_url: str,
    pool: str,
    worker_name: str,
    *,
    since: datetime,
    timeout_s: float = 90.0,
    alive: Callable[[], bool] = lambda: True,
) -> bool:
    """True once the named worker has sent a heartbeat for the pool after `since`; False if it died or time ran out."""
    deadline = time.monotonic() + timeout_s
    with client_for(api_url) as client:
        while time.monotonic() < deadline and alive():
            for worker in client.read_workers_for_work_pool(pool):
                if worker.name == worker_name and worker.last_heartbeat_time and worker.last_heartbeat_time >= since:
                    return True
            time.sleep(0.5)
    return False


def jsonable(value: Any) -> Any:
    """`value` as JSON data: dates and datetimes as ISO text, anything else not JSON as its str(). Flow-run
    parameters for the API (the flow's signature turns the text back into dates) and alert payloads."""
    return json.loads(json.dumps(value, default=lambda v: v.isoformat() if isinstance(v, date | datetime) else str(v)))

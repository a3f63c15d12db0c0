"""Shared fixtures: a real PostgreSQL database per test (or module), a data dir, settings.

Integration tests use the PostgreSQL server at 127.0.0.1:5432 when it answers (each test gets
its own throwaway database) and otherwise an embedded server started for the session, so the
suite runs on any machine. Set BAP_TEST_PG_URL to point them at another server.

Tests that need a real Prefect API share one `prefect server start` for the whole run (all xdist
workers): starting a server costs a Prefect import and its SQLite migrations, once instead of
once per worker.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from flows.settings import Settings, get_settings

DEFAULT_TEST_PG = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"

# Under `make test` each module runs whole on one worker (pytest-xdist `--dist loadscope`), so a
# module fixture (a Prefect server, a browser, a loaded warehouse) is built once. Modules with
# tests marked as slow start first, so that the workers finish together instead of one long test
# running alone at the end.
SLOW_MARKERS = ("slow", "browser", "prefect_server")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Modules with slow tests first (a stable sort: each module stays whole and in order)."""

    def module(item: pytest.Item) -> str:
        return item.nodeid.split("::")[0]

    slow = {module(item) for item in items if any(item.get_closest_marker(m) for m in SLOW_MARKERS)}
    items.sort(key=lambda item: module(item) not in slow)


def _server_reachable(url: str) -> bool:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool, connect_args={"connect_timeout": 2})
    try:
        with engine.connect():
            return True
    except sa.exc.OperationalError:
        return False
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def pg_admin_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """URL of a PostgreSQL server where tests may create and drop databases."""
    url = os.environ.get("BAP_TEST_PG_URL", DEFAULT_TEST_PG)
    if _server_reachable(url):
        return url
    from flows.warehouse.embedded import embedded_url

    pgdata = tmp_path_factory.mktemp("embedded-pg") / "pgdata"
    return str(make_url(embedded_url(pgdata)).set(database="postgres").render_as_string(hide_password=False))


def _create_database(admin_url: str) -> str:
    name = f"bap_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def _drop_database(admin_url: str, url: str) -> None:
    name = make_url(url).database
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


@pytest.fixture
def warehouse_url(pg_admin_url: str) -> Iterator[str]:
    """A fresh, empty database of its own for one test."""
    url = _create_database(pg_admin_url)
    yield url
    _drop_database(pg_admin_url, url)


@pytest.fixture(scope="module")
def module_warehouse_url(pg_admin_url: str) -> Iterator[str]:
    """A fresh database shared by the tests of one module (for expensive set-ups)."""
    url = _create_database(pg_admin_url)
    yield url
    _drop_database(pg_admin_url, url)


@pytest.fixture
def engine(warehouse_url: str) -> Iterator[sa.Engine]:
    """Engine on a fresh, migrated database."""
    from flows.warehouse.connection import make_engine
    from flows.warehouse.migrate import apply_migrations

    eng = make_engine(warehouse_url)
    apply_migrations(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def settings(tmp_path: Path, warehouse_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """Settings pointing at a temp data dir and a fresh database, as the CLI would read them."""
    monkeypatch.setenv("BAP_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("BAP_LOG_DIR", str(tmp_path / "logs"))
    monkeypatch.setenv("BAP_WAREHOUSE_URL", warehouse_url)
    monkeypatch.setenv("BAP_RETRY_DELAY_S", "0")
    # Most tests land small hand-made files: the volume band and the quarantine-share gate are
    # exercised by the quality tests, which turn them back on (see `gated_settings`).
    monkeypatch.setenv("BAP_EXPECTED_ROWS_PER_DAY", "0")
    monkeypatch.setenv("BAP_QUARANTINE_THRESHOLD", "1")
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


@pytest.fixture
def gated_settings(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The settings with the default quality gates (row-count band, 5% quarantine share)."""
    monkeypatch.delenv("BAP_EXPECTED_ROWS_PER_DAY")
    monkeypatch.delenv("BAP_QUARANTINE_THRESHOLD")
    get_settings.cache_clear()
    return get_settings()


# --------------------------------------------------------------------------------------------
# One real Prefect server for the whole run, shared by the xdist workers
# --------------------------------------------------------------------------------------------
SHARED_DIR = pytest.StashKey[Path]()
SERVER_STATE = "prefect-server.json"
PREFECT_TEMPLATE = "prefect-template"


def pytest_configure(config: pytest.Config) -> None:
    """The controller (or the only process) makes the folder its workers share (the server's state
    and lock). Under xdist it also starts the shared Prefect server right away, in the background:
    the server comes up while the workers start and collect."""
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:
        config.stash[SHARED_DIR] = Path(workerinput["bap_shared_dir"])
        return
    config.stash[SHARED_DIR] = shared = Path(tempfile.mkdtemp(prefix="bap-pytest-"))
    if getattr(config.option, "numprocesses", None) and not config.option.collectonly:
        _spawn_prefect_server(shared)
        _spawn_prefect_template(shared)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """pytest-xdist: hand the shared folder to each worker it starts."""
    node.workerinput["bap_shared_dir"] = str(node.config.stash[SHARED_DIR])


def pytest_unconfigure(config: pytest.Config) -> None:
    """After every worker has finished: stop the shared Prefect server, remove the shared folder."""
    if hasattr(config, "workerinput") or SHARED_DIR not in config.stash:
        return
    shared = config.stash[SHARED_DIR]
    _stop_prefect_template(shared)
    state = shared / SERVER_STATE
    if state.exists():
        with contextlib.suppress(psutil.NoSuchProcess, ProcessLookupError):
            server = psutil.Process(json.loads(state.read_text())["pid"])
            os.killpg(server.pid, signal.SIGTERM)  # it runs in a session (and process group) of its own
            try:
                server.wait(timeout=30)
            except psutil.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
    shutil.rmtree(shared, ignore_errors=True)


def _healthy(api_url: str) -> bool:
    try:
        return httpx.get(f"{api_url}/health", timeout=2, trust_env=False).status_code == 200
    except httpx.HTTPError:
        return False


def _spawn_prefect_server(shared: Path) -> None:
    """Start `prefect server start` on a free port (SQLite in its own PREFECT_HOME) in a session of
    its own, and write its pid and API URL to the shared state file; does not wait for it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(
        PREFECT_HOME=str(shared / "prefect-home"),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_SERVER_UI_ENABLED="false",
        # As in Prefect's test harness: no scheduler, no late-run marking (no test deploys here).
        PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED="false",
        PREFECT_SERVER_SERVICES_LATE_RUNS_ENABLED="false",
        # Nor the loops that tend what no test here has: automations (triggers), workers' liveness
        # (foreman), cancellations, pauses, expired concurrency leases, old-run clean-up. The ones
        # the tests read through stay on: the task-run recorder and the event persister.
        PREFECT_SERVER_SERVICES_TRIGGERS_ENABLED="false",
        PREFECT_SERVER_SERVICES_FOREMAN_ENABLED="false",
        PREFECT_SERVER_SERVICES_CANCELLATION_CLEANUP_ENABLED="false",
        PREFECT_SERVER_SERVICES_PAUSE_EXPIRATIONS_ENABLED="false",
        PREFECT_SERVER_SERVICES_REPOSSESSOR_ENABLED="false",
        PREFECT_SERVER_SERVICES_CLEANUP_RECONCILER_ENABLED="false",
        PREFECT_SERVER_LOGGING_LEVEL="WARNING",
    )
    with (shared / "prefect-server.log").open("ab") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # outlives a worker that started it; the controller stops it
        )
    state = {"pid": server.pid, "api_url": f"http://127.0.0.1:{port}/api"}
    (shared / SERVER_STATE).write_text(json.dumps(state))


def _wait_for_prefect_server(shared: Path) -> str:
    """The shared server's API URL once it answers (fails with its log if it died or never answers)."""
    state = json.loads((shared / SERVER_STATE).read_text())
    deadline = time.monotonic() + 180
    while not _healthy(state["api_url"]):
        try:
            alive = psutil.Process(state["pid"]).status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            alive = False
        if not alive or time.monotonic() > deadline:
            log = (shared / "prefect-server.log").read_text(errors="replace")[-4000:]
            pytest.fail(f"the shared Prefect server does not answer at {state['api_url']}:\n{log}")
        time.sleep(0.2)
    return str(state["api_url"])


def _spawn_prefect_template(shared: Path) -> None:
    """Build the run's migrated Prefect home in the background (see tests/prefect_template.py)."""
    folder = shared / PREFECT_TEMPLATE
    folder.mkdir()
    with (folder / "build.log").open("ab") as out:
        build = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("prefect_template.py")), str(folder)],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    (folder / "pid").write_text(str(build.pid))


def _stop_prefect_template(shared: Path) -> None:
    """A run shorter than the template's build (a few quick tests) interrupts it: Ctrl-C lets the
    build stop the server it started before the shared folder goes."""
    folder = shared / PREFECT_TEMPLATE
    if not (folder / "pid").exists() or (folder / "ready").exists() or (folder / "failed").exists():
        return
    with contextlib.suppress(psutil.NoSuchProcess, ProcessLookupError):
        build = psutil.Process(int((folder / "pid").read_text()))
        build.send_signal(signal.SIGINT)
        try:
            build.wait(timeout=60)
        except psutil.TimeoutExpired:
            build.kill()


@pytest.fixture(scope="session")
def seed_prefect_home(request: pytest.FixtureRequest) -> Callable[[Path], Path]:
    """Gives a PREFECT_HOME the run's already-migrated database, so that a server started on it skips
    Prefect's first-start migrations (see tests/prefect_template.py); returns the home."""
    from filelock import FileLock

    from tests import prefect_template

    shared = request.config.stash[SHARED_DIR]
    with FileLock(shared / "prefect-template.lock"):
        if not (shared / PREFECT_TEMPLATE).exists():
            _spawn_prefect_template(shared)
    return lambda home: prefect_template.seed(shared / PREFECT_TEMPLATE, home)


@pytest.fixture(scope="session")
def prefect_api(request: pytest.FixtureRequest) -> Iterator[None]:
    """A real Prefect API: one `prefect server start` (SQLite) for the whole run, shared by the
    xdist workers (each test finds its own runs by id or by a parameter of its own). Started by
    the controller under xdist, else by the first test that needs it; stopped by the controller."""
    from filelock import FileLock
    from prefect.settings import PREFECT_API_URL, temporary_settings

    shared = request.config.stash[SHARED_DIR]
    with FileLock(shared / "prefect-server.lock"):
        if not (shared / SERVER_STATE).exists():
            _spawn_prefect_server(shared)
        api_url = _wait_for_prefect_server(shared)
    with temporary_settings(updates={PREFECT_API_URL: api_url}):
        yield


def write_csv(path: Path, rows: list[dict[str, str]], columns: tuple[str, ...] | None = None) -> Path:
    """A landed CSV file from dicts (the raw contract's column order unless told)."""
    import csv

    from flows.contract import RAW_COLUMNS

    cols = columns or RAW_COLUMNS
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(cols))
        writer.writeheader()
        writer.writerows(rows)
    return path


def settled_task_runs(
    flow_run_id: Any, names: tuple[str, ...] = (), *, client: Any = None, timeout_s: float = 60.0
) -> list[Any]:
    """The task runs of a flow run once the API has caught up with them.

    Prefect 3 records task runs from its event stream, after the flow has already returned (a CI run
    read a finished backfill's day task as RUNNING): poll until every task run named in `names` is
    there and none is still pending or running, as the Prefect UI eventually shows them.
    """
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    flow_filter = FlowRunFilter(id=FlowRunFilterId(any_=[uuid.UUID(str(flow_run_id))]))
    with contextlib.nullcontext(client) if client is not None else get_client(sync_client=True) as api:
        deadline = time.monotonic() + timeout_s
        while True:
            runs = list(api.read_task_runs(flow_run_filter=flow_filter))
            present = {run.name for run in runs}
            settled = all(run.state is not None and run.state.is_final() for run in runs)
            if (settled and set(names) <= present) or time.monotonic() > deadline:
                return runs
            time.sleep(0.25)

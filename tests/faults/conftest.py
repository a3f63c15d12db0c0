"""Fixtures and helpers of the fault tests: real PostgreSQL, real processes, real signals.

Each test breaks something on purpose (kills a process, stops the server, terminates a backend,
runs loads at the same time) and then checks what users rely on: the day in the warehouse is the
last good state or the new good state of the day, never a mix, and running the day again
completes it. Nothing in the warehouse path is mocked.

Kill points are found deterministically: the test holds a lock the load needs next (from its own
connection), waits until pg_stat_activity shows the loader waiting for exactly that statement,
and only then acts (SIGKILL, pg_terminate_backend, release).
"""

from __future__ import annotations

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
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import psycopg2
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from flows.generate import GeneratorConfig, generate_transactions, to_csv_bytes
from flows.settings import Settings, get_settings
from flows.warehouse.load import date_key, fact_checksum
from tests.faults.forked import ForkedLoader


# --------------------------------------------------------------------------------------------
# Source files
# --------------------------------------------------------------------------------------------
def day_csv(path: Path, day: date, *, seed: int, rows: int, defect_rate: float = 0.0) -> Path:
    """A landed transactions file for `day` (the generator's format, deterministic per seed)."""
    config = GeneratorConfig(transactions=rows, customers=2000, seed=seed, defect_rate=defect_rate)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(to_csv_bytes(generate_transactions(day, config)))
    return path


# --------------------------------------------------------------------------------------------
# Database helpers
# --------------------------------------------------------------------------------------------
def dsn(url: str) -> str:
    """A libpq URI of a SQLAlchemy URL (for plain psycopg2 connections of the test)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def connect(url: str, *, autocommit: bool = False) -> psycopg2.extensions.connection:
    conn = psycopg2.connect(dsn(url), application_name="bap-fault-test", connect_timeout=5)
    conn.autocommit = autocommit
    return conn


def query(url: str, statement: str, params: dict | None = None) -> list[tuple]:
    conn = connect(url, autocommit=True)
    try:
        with conn.cursor() as cur:
            cur.execute(statement, params)
            return cur.fetchall() if cur.description else []
    finally:
        conn.close()


@contextmanager
def holding(url: str, statement: str) -> Iterator[psycopg2.extensions.connection]:
    """Run `statement` in an open transaction of the test's own connection, keep its locks until exit."""
    conn = connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute(statement)
        yield conn
    finally:
        conn.rollback()
        conn.close()


def waiting_loaders(url: str, pattern: str) -> list[int]:
    """Backends of the pipeline (application_name 'bap') waiting for a lock at a statement like `pattern`."""
    rows = query(
        url,
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'bap'"
        " AND wait_event_type = 'Lock' AND query ILIKE %(pattern)s ORDER BY backend_start",
        {"pattern": pattern},
    )
    return [r[0] for r in rows]


def wait_until(
    condition: Callable[[], Any], what: str, *, timeout: float = 30.0, procs: tuple[subprocess.Popen, ...] = ()
) -> Any:
    """Poll `condition` until it is truthy; fail early (with its output) if a watched process exits."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        for proc in procs:
            if proc.poll() is not None:
                out, err = proc.communicate()
                pytest.fail(f"process exited ({proc.returncode}) before {what}:\n{out}\n{err}")
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


def wait_for_loaders(
    url: str, pattern: str, count: int = 1, *, procs: tuple[subprocess.Popen, ...] = (), timeout: float = 60.0
) -> list[int]:
    """Block until `count` loader backends wait at a statement like `pattern`; their pids."""
    return wait_until(
        lambda: (pids := waiting_loaders(url, pattern)) and len(pids) >= count and pids,
        f"{count} loader(s) waiting at {pattern!r}",
        timeout=timeout,
        procs=procs,
    )


def backend_alive(url: str, pid: int) -> bool:
    return bool(query(url, "SELECT 1 FROM pg_stat_activity WHERE pid = %(pid)s", {"pid": pid}))


def wait_backend_gone(url: str, pid: int, timeout: float = 30.0) -> None:
    wait_until(lambda: not backend_alive(url, pid), f"backend {pid} to end", timeout=timeout)


# --------------------------------------------------------------------------------------------
# What the warehouse holds
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DayState:
    """Everything the warehouse holds about one day, in natural keys (comparable across databases)."""

    facts: tuple[int, str]  # fact_checksum of the day
    fact_totals: tuple  # count, sum(amount), sum(revenue), sum(processing_time_s)
    city_totals: tuple  # the same sums from agg_daily_city
    region_totals: tuple  # the same sums from agg_daily_region
    audit: tuple | None  # status, sha256, received, loaded, quarantined, duplicates
    quarantined: int  # quarantine_rows of the day
    partitions: tuple[str, ...]  # fact partitions covering the day
    stray_tables: tuple[str, ...] = field(default=())  # leftover *_load tables anywhere

    @property
    def content(self) -> tuple:
        return (
            self.facts,
            self.fact_totals,
            self.city_totals,
            self.region_totals,
            self.audit,
            self.quarantined,
            self.partitions,
        )

    @property
    def rows(self) -> tuple:
        """The day's data and its accounting, whatever the status of the latest attempt."""
        return (
            self.facts,
            self.fact_totals,
            self.city_totals,
            self.region_totals,
            (self.audit or (None,))[1:],
            self.quarantined,
            self.partitions,
        )


_TOTALS = {
    "fact": "SELECT count(*), coalesce(sum(amount), 0), coalesce(sum(revenue), 0), coalesce(sum(processing_time_s), 0)"
    " FROM fact_transactions WHERE date_key = %(key)s",
    "city": "SELECT coalesce(sum(txn_count), 0), coalesce(sum(amount_sum), 0), coalesce(sum(revenue_sum), 0),"
    " coalesce(sum(processing_time_sum), 0) FROM agg_daily_city WHERE date_key = %(key)s",
    "region": "SELECT coalesce(sum(txn_count), 0), coalesce(sum(amount_sum), 0), coalesce(sum(revenue_sum), 0),"
    " coalesce(sum(processing_time_sum), 0) FROM agg_daily_region WHERE date_key = %(key)s",
}


def stray_load_tables(url: str) -> tuple[str, ...]:
    rows = query(
        url, "SELECT relname FROM pg_class WHERE relkind IN ('r', 'p') AND relname LIKE 'fact\\_%%\\_load' ORDER BY 1"
    )
    return tuple(r[0] for r in rows)


def day_state(url: str, day: date) -> DayState:
    key = date_key(day)
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        facts = fact_checksum(engine, day, day)
    finally:
        engine.dispose()
    totals = {name: tuple(query(url, text, {"key": key})[0]) for name, text in _TOTALS.items()}
    audit = query(
        url,
        "SELECT status, content_sha256, rows_received, rows_loaded, rows_quarantined, duplicates_dropped"
        " FROM load_audit WHERE run_date = %(day)s",
        {"day": day},
    )
    quarantined = query(url, "SELECT count(*) FROM quarantine_rows WHERE run_date = %(day)s", {"day": day})[0][0]
    partitions = query(
        url,
        "SELECT c.relname FROM pg_inherits AS i JOIN pg_class AS c ON c.oid = i.inhrelid"
        " JOIN pg_class AS p ON p.oid = i.inhparent WHERE p.relname = 'fact_transactions'"
        " AND c.relname LIKE %(pattern)s ORDER BY 1",
        {"pattern": f"%{key}%"},
    )
    return DayState(
        facts=facts,
        fact_totals=totals["fact"],
        city_totals=totals["city"],
        region_totals=totals["region"],
        audit=tuple(audit[0]) if audit else None,
        quarantined=quarantined,
        partitions=tuple(r[0] for r in partitions),
        stray_tables=stray_load_tables(url),
    )


def assert_day_consistent(state: DayState, day: date) -> None:
    """The invariants of a loaded day: rollups equal facts, the audit describes the rows held."""
    assert state.stray_tables == (), f"leftover load tables: {state.stray_tables}"
    assert state.partitions == (f"fact_transactions_d{date_key(day)}",)
    assert state.fact_totals == state.city_totals == state.region_totals, "rollups disagree with the facts"
    assert state.audit is not None and state.audit[0] in ("loaded", "failed")  # failed: a later attempt failed
    _, _, received, loaded, quarantined, duplicates = state.audit
    assert loaded == state.facts[0] == state.fact_totals[0]
    assert quarantined == state.quarantined
    assert received == loaded + quarantined + duplicates


# One md5 per table over natural keys (no surrogate keys, no timestamps, no run ids): two
# warehouses with equal fingerprints hold the same data.
_FINGERPRINT = {
    "dim_date": "SELECT concat_ws('|', date_key, full_date, day, month, quarter, year, day_of_week, day_name,"
    " weekday_flag) FROM dim_date",
    "dim_channel": "SELECT concat_ws('|', channel_key, channel_name, fee_percent) FROM dim_channel",
    "dim_city": "SELECT concat_ws('|', city_name, state, region) FROM dim_city",
    "dim_customer": "SELECT concat_ws('|', customer_id, customer_name, segment, signup_date, is_inferred)"
    " FROM dim_customer",
    "agg_daily_city": "SELECT concat_ws('|', a.date_key, ch.channel_name, ci.city_name, ci.state, a.segment, a.status,"
    " a.txn_count, a.amount_sum, a.revenue_sum, a.processing_time_sum) FROM agg_daily_city AS a"
    " JOIN dim_channel AS ch USING (channel_key) JOIN dim_city AS ci USING (city_key)",
    "agg_daily_region": "SELECT concat_ws('|', a.date_key, ch.channel_name, a.region, a.segment, a.status, a.txn_count,"
    " a.amount_sum, a.revenue_sum, a.processing_time_sum) FROM agg_daily_region AS a"
    " JOIN dim_channel AS ch USING (channel_key)",
    "quarantine_rows": "SELECT concat_ws('|', run_date, source_file, source_row, reject_reason, transaction_id,"
    " raw_record::text) FROM quarantine_rows",
    "load_audit": "SELECT concat_ws('|', run_date, status, content_sha256, rows_received, rows_loaded,"
    " rows_quarantined, quarantine_reasons::text, duplicates_dropped) FROM load_audit",
    "partitions": "SELECT c.relname::text FROM pg_inherits AS i JOIN pg_class AS c ON c.oid = i.inhrelid"
    " JOIN pg_class AS p ON p.oid = i.inhparent WHERE p.relname = 'fact_transactions'",
}


def warehouse_fingerprint(url: str) -> dict[str, Any]:
    """Per table (row count, md5 of its rows in natural keys); facts through fact_checksum."""
    prints: dict[str, Any] = {}
    for name, select in _FINGERPRINT.items():
        count, digest = query(
            url, f"SELECT count(*), md5(string_agg(line, E'\\n' ORDER BY line)) FROM ({select}) AS t (line)"
        )[0]
        prints[name] = (count, digest)
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        prints["fact_transactions"] = fact_checksum(engine)
    finally:
        engine.dispose()
    prints["stray_load_tables"] = stray_load_tables(url)
    return prints


def audit_message(url: str, day: date) -> tuple[str, str | None]:
    return query(url, "SELECT status, message FROM load_audit WHERE run_date = %(day)s", {"day": day})[0]


def load_runs(url: str, day: date) -> list[tuple]:
    return query(url, "SELECT status, content_sha256 FROM load_runs WHERE run_date = %(day)s ORDER BY id", {"day": day})


# --------------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------------
@pytest.fixture(autouse=True)
def _fresh_engines() -> Iterator[None]:
    """The pipeline caches one engine per URL and process; each fault test starts without one."""
    from flows import steps

    steps._engine_for.cache_clear()
    yield
    steps._engine_for.cache_clear()


@dataclass
class Site:
    """One installation under test: its data dir, its warehouse, and the environment of its processes."""

    root: Path
    url: str
    settings: Settings
    env: dict[str, str]
    spawned: list[subprocess.Popen | ForkedLoader] = field(default_factory=list)

    @property
    def lake(self):
        from flows.storage import DataLake

        return DataLake(self.settings.data_dir)

    def spawn(self, args: list[str], **env: str) -> subprocess.Popen:
        proc = subprocess.Popen(
            args,
            cwd=self.root,
            env={**self.env, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        self.spawned.append(proc)
        return proc

    def kill_leftovers(self) -> None:
        """A failed test may leave a process blocked or stopped: end it (and only it, by its group)."""
        for proc in self.spawned:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:  # a forked loader not yet in a session of its own
                    os.kill(proc.pid, signal.SIGKILL)
                proc.communicate()

    def spawn_loader(self, day: date, input_path: Path | None = None, **env: str) -> ForkedLoader:
        """A process running the day end to end, as a backfill task runs it (see tests/faults/forked.py)."""
        loader = ForkedLoader({**self.env, **env}, self.root, day, input_path)
        self.spawned.append(loader)
        return loader

    def bap(self, *args: str, **env: str) -> subprocess.Popen:
        """The `bap` command of this environment (its console script, as a user runs it)."""
        script = Path(sys.executable).with_name("bap")
        command = [str(script)] if script.exists() else [sys.executable, "-m", "flows.cli"]
        return self.spawn([*command, *args], **env)


def finish(proc: subprocess.Popen, timeout: float = 120.0) -> tuple[int, str, str]:
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"process did not finish in {timeout} s:\n{out}\n{err}")
    return proc.returncode, out, err


def site_env(root: Path, url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BAP_", "PREFECT_"))}
    env.update(
        BAP_DATA_DIR=str(root / "data"),
        BAP_LOG_DIR=str(root / "logs"),
        BAP_WAREHOUSE_URL=url,
        BAP_RETRY_DELAY_S="0",
        PREFECT_HOME=str(root / "prefect-home"),
        PYTHONUNBUFFERED="1",
        # These tests load days of their own sizes and defects: the quality gates (tested in
        # tests/test_quality_gates.py) would block them before the faults under test happen.
        BAP_EXPECTED_ROWS_PER_DAY="0",
        BAP_QUARANTINE_THRESHOLD="1",
    )
    env.update(extra)
    return env


@pytest.fixture
def site(tmp_path: Path, warehouse_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    """A data dir and a fresh database; this process and its children read the same settings."""
    env = site_env(tmp_path, warehouse_url)
    for name in (
        "BAP_DATA_DIR",
        "BAP_LOG_DIR",
        "BAP_WAREHOUSE_URL",
        "BAP_RETRY_DELAY_S",
        "BAP_EXPECTED_ROWS_PER_DAY",
        "BAP_QUARANTINE_THRESHOLD",
    ):
        monkeypatch.setenv(name, env[name])
    get_settings.cache_clear()
    site = Site(root=tmp_path, url=warehouse_url, settings=get_settings(), env=env)
    yield site
    site.kill_leftovers()
    get_settings.cache_clear()


def other_site(root: Path, url: str) -> Settings:
    """Settings of a second, independent installation (the clean reference run)."""
    return Settings(
        data_dir=str(root / "data"),
        log_dir=str(root / "logs"),
        warehouse_url=url,
        retry_delay_s=0,
        expected_rows_per_day=0,
        quarantine_threshold=1,
    )


@pytest.fixture
def fresh_database(pg_admin_url: str) -> Iterator[Callable[[], str]]:
    """Factory of extra fresh databases (dropped at the end of the test)."""
    created: list[str] = []

    def make() -> str:
        name = f"bap_fault_{uuid.uuid4().hex[:12]}"
        query(pg_admin_url, f'CREATE DATABASE "{name}"')
        url = make_url(pg_admin_url).set(database=name).render_as_string(hide_password=False)
        created.append(name)
        return url

    yield make
    for name in created:
        query(pg_admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def prefect_api_url(request: pytest.FixtureRequest) -> str:
    """URL of a real Prefect API for this session: the suite's shared harness when there is one."""
    from prefect.settings import PREFECT_API_URL

    try:
        request.getfixturevalue("prefect_api")  # tests/conftest.py: Prefect's test harness, shared
        return str(PREFECT_API_URL.value())
    except pytest.FixtureLookupError:
        pass
    from prefect.testing.utilities import prefect_test_harness

    harness = prefect_test_harness(server_startup_timeout=180)
    harness.__enter__()
    request.addfinalizer(lambda: harness.__exit__(None, None, None))
    return str(PREFECT_API_URL.value())


def prefect_task_runs(flow_run_id: str) -> dict[str, Any]:
    """Task runs of a flow run by task name (ingest, transform, load, ...)."""
    from tests.conftest import settled_task_runs

    return {run.name.rsplit("-", 1)[0]: run for run in settled_task_runs(flow_run_id)}


def prefect_flow_run_with(parameter: str, value: str) -> Any:
    """The most recent flow run whose `parameter` was `value`."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.sorting import FlowRunSort

    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(sort=FlowRunSort.START_TIME_DESC, limit=200)
    matching = [r for r in runs if str(r.parameters.get(parameter)) == value]
    assert matching, f"no flow run with {parameter}={value}"
    return matching[0]


# --------------------------------------------------------------------------------------------
# A PostgreSQL server the tests may stop and start ("the warehouse is down")
# --------------------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _server_bin() -> Path | None:
    """Folder of the PostgreSQL server programs (initdb, pg_ctl), newest version first."""
    found = (
        subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True) if shutil.which("pg_config") else None
    )
    candidates = ([Path(found.stdout.strip())] if found and found.returncode == 0 else []) + sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
    return next((c for c in candidates if (c / "initdb").exists() and (c / "pg_ctl").exists()), None)


@dataclass
class ThrowawayServer:
    """A PostgreSQL cluster of the test's own, to stop ("the warehouse is down") and start again."""

    bindir: Path
    pgdata: Path
    port: int

    def _run(self, program: str, *args: str) -> None:
        command = [str(self.bindir / program), *args]
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def init(self) -> None:
        self._run("initdb", "-D", str(self.pgdata), "-A", "trust", "-U", "postgres", "--no-sync")

    def start(self) -> None:
        self._run(
            "pg_ctl",
            "-D",
            str(self.pgdata),
            "-w",
            "-s",
            "-l",
            str(self.pgdata.parent / "server.log"),
            "-o",
            f"-p {self.port} -k {self.pgdata.parent} -c listen_addresses=127.0.0.1 -c fsync=off",
            "start",
        )

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.pgdata), "-w", "-s", "-m", "fast", "stop")

    def url(self, password: str = "") -> str:
        secret = f":{password}" if password else ""
        return f"postgresql+psycopg2://postgres{secret}@127.0.0.1:{self.port}/postgres"


@pytest.fixture
def throwaway_server() -> Iterator[ThrowawayServer]:
    """A PostgreSQL cluster of its own on a free port (as the postgres OS user when run as root)."""
    bindir = _server_bin()
    if bindir is None or (os.geteuid() == 0 and shutil.which("runuser") is None):
        pytest.skip("needs the PostgreSQL server programs (initdb, pg_ctl) to start a throwaway cluster")
    base = Path(tempfile.mkdtemp(prefix="bap-fault-pg-"))
    if os.geteuid() == 0:
        shutil.chown(base, "postgres")
    base.chmod(0o755)
    server = ThrowawayServer(bindir=bindir, pgdata=base / "pgdata", port=_free_port())
    server.init()
    server.start()
    yield server
    try:
        server.stop()
    except subprocess.CalledProcessError:
        pass  # already stopped
    shutil.rmtree(base, ignore_errors=True)


def reference_load(source: Path, url: str, folder: Path, day: date) -> DayState:
    """The day as one clean load of `source` into an empty warehouse leaves it: what every
    interrupted, retried or concurrent run must end equal to."""
    from flows import steps

    steps._engine_for.cache_clear()
    steps.run_day(other_site(folder, url), day, input_path=str(source))
    state = day_state(url, day)
    assert_day_consistent(state, day)
    return state

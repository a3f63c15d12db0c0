"""Shared fixtures: a real PostgreSQL database per test (or module), a data dir, settings.

Integration tests use the PostgreSQL server at 127.0.0.1:5432 when it answers (each test gets
its own throwaway database) and otherwise an embedded server started for the session, so the
suite runs on any machine. Set BAP_TEST_PG_URL to point them at another server.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

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


@pytest.fixture(scope="session")
def prefect_api() -> Iterator[None]:
    """A real Prefect API (Prefect's test harness: a temporary server with a SQLite database)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=180):
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

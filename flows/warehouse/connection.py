"""Engines for the warehouse, with a clear error when it cannot be reached.

A password in a URL is never printed: everything user-facing goes through `redact()`.
"""

from __future__ import annotations

from urllib.parse import unquote

import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url

from flows.errors import WarehouseUnavailable
from flows.settings import Settings


def redact(url: str | URL) -> str:
    """The URL with its password replaced by ***."""
    try:
        parsed = make_url(url)
        if not parsed.password:
            parsed = parsed.set(password=None)
        return unquote(parsed.render_as_string(hide_password=True))
    except Exception:
        return "<unparseable URL>"


def resolve_url(settings: Settings) -> str:
    """The warehouse URL: BAP_WAREHOUSE_URL, or the embedded server (started on demand)."""
    if settings.warehouse_url is not None:
        url = make_url(settings.warehouse_url.get_secret_value())
        if url.drivername in ("postgresql", "postgres"):
            url = url.set(drivername="postgresql+psycopg2")
        return url.render_as_string(hide_password=False)
    from flows.warehouse.embedded import embedded_url

    return embedded_url(settings.embedded_pgdata)


def make_engine(url: str, *, pool_size: int = 5) -> sa.Engine:
    """An engine that fails fast (5 s connect timeout) instead of hanging on a dead server."""
    return sa.create_engine(
        url,
        pool_pre_ping=True,
        pool_size=pool_size,
        max_overflow=pool_size,
        connect_args={"connect_timeout": 5, "application_name": "bap"},
    )


def check_connection(engine: sa.Engine) -> None:
    """Raise WarehouseUnavailable with one actionable sentence if the warehouse cannot be reached."""
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except sa.exc.OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise WarehouseUnavailable(
            f"cannot reach the warehouse at {redact(engine.url)} ({reason}); "
            "check BAP_WAREHOUSE_URL and that PostgreSQL is running"
        ) from None


def warehouse_engine(url: str) -> sa.Engine:
    """Engine of a warehouse URL, connection checked, schema migrated."""
    from flows.warehouse.migrate import apply_migrations

    engine = make_engine(url)
    check_connection(engine)
    apply_migrations(engine)
    return engine

"""Shared benchmark plumbing: a throwaway database, timing, medians, the machine's description."""

from __future__ import annotations

import os
import platform
import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from flows.settings import Settings
from flows.warehouse.connection import make_engine, resolve_url
from flows.warehouse.migrate import apply_migrations


def machine() -> dict[str, Any]:
    import psutil

    return {
        "cpu_count": os.cpu_count(),
        "cpu": platform.processor() or platform.machine(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


@contextmanager
def throwaway_database(settings: Settings) -> Iterator[tuple[sa.Engine, str]]:
    """A fresh, migrated database on the configured PostgreSQL (embedded by default), dropped after."""
    base = make_url(resolve_url(settings))
    name = f"bap_bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = base.set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    try:
        apply_migrations(engine)
        with engine.connect() as conn:
            version = conn.exec_driver_sql("SHOW server_version").scalar()
        yield engine, f"PostgreSQL {version}"
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def timed(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def median(values: list[float]) -> float:
    return statistics.median(values)

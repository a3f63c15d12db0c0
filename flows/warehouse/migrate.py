"""Ordered, idempotent migrations from warehouse_sql/migrations, recorded in schema_migrations."""

from __future__ import annotations

import hashlib
import logging

import sqlalchemy as sa

from flows.reference import CHANNELS
from flows.warehouse.sql import migration_files, sql

log = logging.getLogger("bap.warehouse")

_MIGRATION_LOCK = 0x62617001  # advisory lock id: one migrator at a time

_LEDGER = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version     integer PRIMARY KEY,
    name        text NOT NULL,
    sha256      char(64) NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
)
"""


def apply_migrations(engine: sa.Engine) -> list[str]:
    """Apply every migration not yet recorded; return the names applied. Safe to call concurrently."""
    applied: list[str] = []
    with engine.begin() as conn:
        conn.exec_driver_sql("SELECT pg_advisory_xact_lock(%(id)s)", {"id": _MIGRATION_LOCK})
        conn.exec_driver_sql(_LEDGER)
        done = {row[0]: row[1] for row in conn.exec_driver_sql("SELECT version, sha256 FROM schema_migrations")}
        for path in migration_files():
            version = int(path.name[:3])
            text = path.read_text(encoding="utf-8")
            digest = hashlib.sha256(text.encode()).hexdigest()
            if version in done:
                if done[version] != digest:
                    log.warning("migration changed after it was applied", extra={"migration": path.name})
                continue
            # Through the DB-API cursor without parameters: migration text is taken literally
            # (a '%' in a comment or a string is not a placeholder).
            conn.connection.dbapi_connection.cursor().execute(text)
            conn.exec_driver_sql(
                "INSERT INTO schema_migrations (version, name, sha256) VALUES (%(v)s, %(n)s, %(s)s)",
                {"v": version, "n": path.name, "s": digest},
            )
            applied.append(path.name)
        for name, (key, fee) in CHANNELS.items():
            conn.exec_driver_sql(
                sql("load/upsert_channel.sql"), {"channel_key": key, "channel_name": name, "fee_percent": fee}
            )
    if applied:
        log.info("migrations applied", extra={"migrations": applied})
    return applied
